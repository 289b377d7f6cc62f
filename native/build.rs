// Sets the linker arguments a napi addon needs on each platform (e.g. `-undefined
// dynamic_lookup` on macOS); a no-op where nothing is needed.
fn main() {
    napi_build::setup();
}

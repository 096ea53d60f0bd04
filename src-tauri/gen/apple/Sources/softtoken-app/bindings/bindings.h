#pragma once

// The Rust side's entry point: `run()` in src-tauri/src/lib.rs, exported by
// #[tauri::mobile_entry_point] from the static library libapp.a.
namespace ffi {
    extern "C" {
        void start_app();
    }
}

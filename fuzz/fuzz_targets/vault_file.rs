#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| softtoken_core::fuzzing::vault_file(data));

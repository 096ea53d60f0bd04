#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| softtoken_core::fuzzing::wire_fields(data));

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| softtoken_core::fuzzing::client_answer(data));

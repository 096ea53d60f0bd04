#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| softtoken_server::fuzzing::server_config(data));

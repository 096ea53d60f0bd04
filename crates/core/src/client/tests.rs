use super::*;

#[test]
fn only_https_or_loopback_http_is_accepted() {
    for ok in [
        "https://otp.example-bank.jp",
        "https://otp.example-bank.jp/softtoken/",
        "http://127.0.0.1:8080",
        "http://127.1.2.3/",
        "http://[::1]:9000/",
        "http://localhost:3000",
        "http://LOCALHOST",
    ] {
        let url =
            parse_base_url(ok, PlainHttp::LoopbackOnly).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert!(url.path().ends_with('/'), "{url}");
    }
    for bad in [
        "http://otp.example-bank.jp",
        "http://192.168.1.10:8080",
        "http://[::2]/",
        "http://localhost.evil.example/",
        "ftp://otp.example-bank.jp",
        "otp.example-bank.jp",
        "https://user:pw@otp.example-bank.jp",
        "https://otp.example-bank.jp/?x=1",
        "",
    ] {
        assert!(matches!(ProvisioningClient::new(bad), Err(Error::InsecureServerUrl(_))), "{bad}");
    }
}

#[test]
fn only_a_qa_configuration_reaches_the_emulator_host_over_http() {
    let qa = ClientOptions { plain_http: PlainHttp::LoopbackAndEmulatorHost, ..Default::default() };
    assert!(ProvisioningClient::with_options("http://10.0.2.2:8080", qa.clone()).is_ok());
    assert!(ProvisioningClient::with_options("http://127.0.0.1:8080", qa.clone()).is_ok());
    for bad in ["http://10.0.2.3:8080", "http://10.0.2.2.evil.example/", "http://192.168.1.10/"] {
        assert!(
            matches!(
                ProvisioningClient::with_options(bad, qa.clone()),
                Err(Error::InsecureServerUrl(_))
            ),
            "{bad}"
        );
    }
    // The customer's client (the default options) never does.
    assert_eq!(ClientOptions::default().plain_http, PlainHttp::LoopbackOnly);
    assert!(matches!(
        ProvisioningClient::new("http://10.0.2.2:8080"),
        Err(Error::InsecureServerUrl(_))
    ));
}

#[test]
fn paths_join_under_the_base_path() {
    let c = ProvisioningClient::new("https://bank.example/otp").unwrap();
    let url = c.base_url().join(PATH_START.trim_start_matches('/')).unwrap();
    assert_eq!(url.as_str(), "https://bank.example/otp/v1/provision/start");
}

#[test]
fn bank_refusals_map_to_what_the_app_shows() {
    let body = |code, tries: Option<u32>, retry: Option<u64>| {
        let mut b = ErrorBody::new(code, "m");
        b.tries_left = tries;
        b.retry_after = retry;
        Some(b)
    };
    let s = |n| StatusCode::from_u16(n).unwrap();
    assert!(matches!(
        answer_error(s(401), body(ErrorCode::WrongActivationPassword, Some(3), None), None),
        Error::WrongActivationPassword { tries_left: 3 }
    ));
    assert!(matches!(
        answer_error(s(401), body(ErrorCode::WrongActivationPassword, None, None), None),
        Error::ProtocolViolation(_)
    ));
    assert!(matches!(
        answer_error(s(429), body(ErrorCode::RateLimited, None, Some(30)), Some(99)),
        Error::RateLimited { retry_after: Some(30) }
    ));
    assert!(matches!(
        answer_error(s(429), None, Some(12)),
        Error::RateLimited { retry_after: Some(12) }
    ));
    assert!(matches!(answer_error(s(502), None, None), Error::ServerError { status: 502 }));
    assert!(matches!(
        answer_error(s(404), body(ErrorCode::NotFound, None, None), None),
        Error::ServerError { status: 404 }
    ));
}

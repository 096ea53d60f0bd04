// Generated from softtoken-core and softtoken-app by
// `SOFTTOKEN_WRITE_RULES=1 cargo test -p softtoken-app --test rules_file`. Do not edit.
export default Object.freeze({
  "service_id": {
    "min_digits": 8,
    "max_digits": 8
  },
  "user_id": {
    "min_digits": 12,
    "max_digits": 12
  },
  "activation_password": {
    "min_digits": 4,
    "max_digits": 8
  },
  "app_pin": {
    "min_digits": 6,
    "max_digits": 6
  },
  "base_name": {
    "max_chars": 32,
    "max_code_points": 256
  },
  "added_wording": {
    "max_chars": 32,
    "max_code_points": 256
  },
  "separators": [
    " ",
    "\u3000",
    "\u00a0",
    "-",
    "\uff0d",
    "\u2010",
    "\u2011",
    "\u2012",
    "\u2013",
    "\u2014",
    "\u2212",
    "\u30fc",
    "\uff70"
  ],
  "forbidden_in_name": [
    [
      0,
      31
    ],
    [
      127,
      159
    ],
    [
      8203,
      8207
    ],
    [
      8234,
      8238
    ],
    [
      8288,
      8292
    ],
    [
      8294,
      8297
    ],
    [
      65279,
      65279
    ],
    [
      65529,
      65531
    ]
  ],
  "emoji_joiner": 8205,
  "invalid_reasons": [
    "empty",
    "not_digits",
    "wrong_length",
    "control",
    "too_long"
  ],
  "error_kinds": [
    "invalid_input",
    "unsupported_parameters",
    "vault_corrupted",
    "vault_too_new",
    "vault_key_missing",
    "keychain_unavailable",
    "vault_changed",
    "storage_io",
    "token_not_found",
    "duplicate_token",
    "crypto",
    "wrong_activation_password",
    "registration_locked",
    "registration_expired",
    "already_delivered",
    "registration_ended",
    "unknown_registration",
    "superseded",
    "attempt_expired",
    "rate_limited",
    "bank_not_authenticated",
    "server_unreachable",
    "tls",
    "server_error",
    "protocol_violation",
    "insecure_server_url",
    "device_clock_wrong",
    "confirmation_not_accepted",
    "unknown_confirmation",
    "weak_pin",
    "pin_needed",
    "wrong_pin",
    "pin_back_off",
    "pin_already_set",
    "pin_not_set",
    "vault_rolled_back",
    "biometric_stale",
    "moves_not_offered",
    "no_pending_move",
    "weak_activation_password",
    "registration_moved",
    "clipboard_unavailable",
    "not_kiosk",
    "internal",
    "qa_ca_unusable",
    "already_on_this_device",
    "already_running",
    "pin_required",
    "kiosk_has_no_lock",
    "biometric_cancelled",
    "biometric_invalidated",
    "biometric_unavailable",
    "passwords_differ"
  ]
});

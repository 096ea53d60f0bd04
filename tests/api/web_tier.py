"""The bank web tier's example client: a Python client generated from docs/openapi.json by
openapi-python-client, driving a real server through the calls of docs/INTEGRATION.md (issue,
status, verify, a confirmation and its cancel, end of use) and their refusals.

    python web_tier.py ADMIN_URL TOKEN

Run by scripts/api-check.sh against the server it starts, after generating the client into
target/; exits non-zero on the first answer that is not what the guide says.
"""

import sys

from softtoken_server_client import AuthenticatedClient, Client
from softtoken_server_client.api.confirmations import confirmation_cancel, confirmation_create, confirmation_status
from softtoken_server_client.api.health import livez
from softtoken_server_client.api.registrations import admin_issue, admin_revoke, admin_status
from softtoken_server_client.api.verify import admin_verify
from softtoken_server_client.models import IssueBody, NewConfirmation, VerifyBody

SERVICE = "10112231"
USER = "000000000777"


def expect(what, answer, status):
    if answer.status_code != status:
        sys.exit(f"{what}: expected {status}, got {answer.status_code} {answer.content!r}")
    print(f"ok  {what}: {status}")
    return answer.parsed


def main(admin_url, token):
    expect("liveness", livez.sync_detailed(client=Client(base_url=admin_url)), 200)
    bank = AuthenticatedClient(base_url=admin_url, token=token)

    # Steps 3–5: issue; the status screen shows it issued.
    issue = IssueBody(service_id=SERVICE, user_id=USER, mail="taro@example.jp", activation_password="4821")
    status = expect("issue", admin_issue.sync_detailed(client=bank, body=issue), 201)
    assert status.state == "issued", status
    again = expect("issue again", admin_issue.sync_detailed(client=bank, body=issue), 409)
    assert again.code == "registration_exists", again
    weak = IssueBody(service_id=SERVICE, user_id="000000000778", mail="taro@example.jp", activation_password="1111")
    refused = expect("weak password", admin_issue.sync_detailed(client=bank, body=weak), 400)
    assert refused.code == "weak_activation_password", refused
    shown = expect("status", admin_status.sync_detailed(SERVICE, USER, client=bank), 200)
    assert shown.user_id == USER and shown.state == "issued", shown

    # Steps 11–13 before the app fetched the token: not delivered yet.
    code = VerifyBody(service_id=SERVICE, user_id=USER, code="123456")
    early = expect("verify before delivery", admin_verify.sync_detailed(client=bank, body=code), 409)
    assert early.code == "not_delivered", early

    # A transfer's confirmation needs a token in use.
    transfer = NewConfirmation.from_dict({
        "service_id": SERVICE, "user_id": USER, "match_required": True,
        "details": {"kind": "transfer", "amount_yen": 50000, "payee": {
            "bank": "みらい信用金庫", "branch": "本店営業部", "account_type": "ordinary",
            "account_number": "1234567", "holder": "ヤマダ　タロウ"}},
    })
    create = expect("confirmation before use", confirmation_create.sync_detailed(client=bank, body=transfer), 409)
    assert create.code == "not_delivered", create
    unknown = "AAAAAAAAAAAAAAAAAAAAAA"
    expect("unknown confirmation", confirmation_status.sync_detailed(unknown, client=bank), 404)
    expect("cancel unknown confirmation", confirmation_cancel.sync_detailed(unknown, client=bank), 404)

    # End of use: the codes stop; ending again changes nothing.
    ended = expect("end of use", admin_revoke.sync_detailed(SERVICE, USER, client=bank), 200)
    assert ended.state == "ended", ended
    still = expect("end again", admin_revoke.sync_detailed(SERVICE, USER, client=bank), 200)
    assert still.state == "ended" and still.ended_at == ended.ended_at, still
    expect("verify after the end", admin_verify.sync_detailed(client=bank, body=code), 410)

    # A wrong credential is refused, and the client reads the error body.
    stranger = AuthenticatedClient(base_url=admin_url, token="not-a-credential-0000000000")
    who = expect("wrong bearer", admin_status.sync_detailed(SERVICE, USER, client=stranger), 401)
    assert who.code == "unauthorized", who
    print("web tier example: every answer as the guide says")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

//! The step-6 mail, in Japanese and English: it names the service ID, the user ID, the
//! download URL and the expiry, never the activation password.

use super::{rfc3339, Bank};
use crate::storage::{OutboxMail, Registration};

impl Bank {
    pub(super) fn mail_for(&self, r: &Registration, now: u64) -> OutboxMail {
        let expires = rfc3339(r.expires_at);
        let body = format!(
            "ソフトウェアトークンを発行しました。\n\
             アプリを開き、次のサービスIDとユーザID、およびお客様がお決めになった利用開始パスワードを入力してください。\n\
             \n\
             サービスID: {service}\n\
             ユーザID: {user}\n\
             アプリのダウンロード: {url}\n\
             有効期限: {expires}\n\
             \n\
             Your software token has been issued. Open the app and enter the service ID and\n\
             user ID above and the activation password you chose on our web site.\n\
             Download the app: {url}\n\
             Valid until: {expires}\n\
             \n\
             このメールに利用開始パスワードは記載されません。\n\
             This mail never contains the activation password.\n",
            service = r.service_id,
            user = r.user_id,
            url = self.policy.download_url,
        );
        OutboxMail {
            registration_id: r.id.clone(),
            to: r.mail.clone(),
            subject: "ソフトウェアトークン発行のお知らせ / Your software token".into(),
            body,
            created_at: now,
        }
    }

    pub(super) fn write_mail_file(&self, r: &Registration, mail: &OutboxMail) {
        let Some(dir) = &self.outbox_dir.0 else { return };
        let name = format!("{}-{}-{}-{}.txt", mail.created_at, r.service_id, r.user_id, &r.id[..8]);
        let text = format!("To: {}\nSubject: {}\n\n{}", mail.to, mail.subject, mail.body);
        let result = std::fs::create_dir_all(dir).and_then(|()| {
            let tmp = dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, text.as_bytes())?;
            std::fs::rename(&tmp, dir.join(&name))
        });
        // The mail is in the outbox table already; a missing file is an operator's problem,
        // not the customer's.
        if let Err(e) = result {
            tracing::error!(event = "outbox_file_failed", dir = %dir.display(), error = %e,
                "could not write the outbox file; the mail is in the outbox table");
        }
    }
}

//! The mails of the outbox, in Japanese and English: the step-6 mail names the service ID, the
//! user ID, the download URL and the expiry; the notice of a wrong activation password tells
//! the customer someone tried. Neither ever contains the activation password.

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

    /// The notice that someone entered a wrong activation password for the customer's token:
    /// whoever read the step-6 mail may be guessing, and the customer is the one who can tell.
    pub(super) fn wrong_password_notice(&self, r: &Registration, now: u64) -> OutboxMail {
        let left = self.policy.provision_max_tries.saturating_sub(r.failed_tries);
        let at = rfc3339(now);
        let (ja, en) = if r.provision_locked {
            (
                "登録はロックされました。お心当たりがない場合は、当行にご連絡ください。".to_owned(),
                "The registration is now locked. If this was not you, contact the bank.".to_owned(),
            )
        } else {
            (
                format!("あと{left}回間違えると登録はロックされます。お心当たりがない場合は、当行にご連絡ください。"),
                format!("{left} more wrong tries lock the registration. If this was not you, contact the bank."),
            )
        };
        notice(
            r,
            now,
            "利用開始パスワードの誤入力 / Wrong activation password entered",
            "ソフトウェアトークンの設定で、誤った利用開始パスワードが入力されました。",
            &ja,
            &format!(
                "Someone entered a wrong activation password for your software token\n\
                 (service ID and user ID above) at {at}.\n{en}"
            ),
        )
    }

    /// The notice that the token was set up again before the first setup was acknowledged:
    /// only the newest setup will work, and the customer should know if it was not theirs.
    pub(super) fn superseded_notice(&self, r: &Registration, now: u64) -> OutboxMail {
        let at = rfc3339(now);
        notice(
            r,
            now,
            "ソフトウェアトークンの再設定 / Your software token was set up again",
            "ソフトウェアトークンの設定が、別のアプリで改めて行われました。",
            "最後に設定したアプリだけが使えます。お心当たりがない場合は、当行にご連絡ください。",
            &format!(
                "Your software token (service ID and user ID above) was set up again at {at},\n\
                 before the earlier setup finished. Only the app that set it up last will work.\n\
                 If this was not you, contact the bank."
            ),
        )
    }

    /// Writes `mail` as a file too; `kind` keeps two mails of one second apart.
    pub(super) fn write_mail_file(&self, r: &Registration, mail: &OutboxMail, kind: &str) {
        let Some(dir) = &self.outbox_dir.0 else { return };
        let name =
            format!("{}-{}-{}-{}-{kind}.txt", mail.created_at, r.service_id, r.user_id, &r.id[..8]);
        let text = format!("To: {}\nSubject: {}\n\n{}", mail.to, mail.subject, mail.body);
        // Mails name customers and their mail addresses: the owner's alone.
        let result = (|| -> crate::error::Result<()> {
            let tmp = dir.join(format!(".{name}.tmp"));
            std::io::Write::write_all(
                &mut crate::files::create_private_file(&tmp, false)?,
                text.as_bytes(),
            )?;
            std::fs::rename(&tmp, dir.join(&name))?;
            Ok(())
        })();
        // The mail is in the outbox table already; a missing file is an operator's problem,
        // not the customer's.
        if let Err(e) = result {
            tracing::error!(event = "outbox_file_failed", dir = %dir.display(), error = %e,
                "could not write the outbox file; the mail is in the outbox table");
        }
    }
}

/// A notice about `r` at `now`: what happened in Japanese, the IDs and the time, what to do,
/// then the English text. Never a password.
fn notice(
    r: &Registration,
    now: u64,
    subject: &str,
    ja: &str,
    ja_then: &str,
    en: &str,
) -> OutboxMail {
    let body = format!(
        "{ja}\nサービスID: {service}\nユーザID: {user}\n日時: {at}\n{ja_then}\n\n{en}\n",
        service = r.service_id,
        user = r.user_id,
        at = rfc3339(now),
    );
    OutboxMail {
        registration_id: r.id.clone(),
        to: r.mail.clone(),
        subject: subject.to_owned(),
        body,
        created_at: now,
    }
}

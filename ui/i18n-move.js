// The texts of the move to a new phone (機種変更) and of ending use at the bank when a token is
// deleted, in Japanese and English. Kept beside i18n.js, which adds them to its STRINGS; the
// same completeness test covers them.

export const MOVE_STRINGS = {
  ja: {
    "delete.at_bank": "銀行での利用も終了する（利用解除）",
    "delete.at_bank_hint":
      "このトークンのワンタイムパスワードは、銀行でも使えなくなります。新しいスマートフォンに移すときは、削除ではなく「機種変更」を使ってください。",
    "delete.done_ended": "{name} の利用を銀行で終了し、この端末から削除しました。",
    "delete.done_already_ended": "{name} は銀行ですでに利用終了になっていました。この端末から削除しました。",
    "delete.kept_offline":
      "銀行につながらないため、利用終了も削除もしていません。{name} はそのまま残っています。ネットワークにつながってから、もう一度お試しください。",
    "delete.kept_refused":
      "銀行がこのトークンでの利用終了を受け付けませんでした。{name} は削除していません。銀行にお問い合わせください。",

    "list.move": "機種変更",
    "list.moving": "新しいスマートフォンへの移行中です（{date} まで）。",
    "move.heading": "新しいスマートフォンへ移す（機種変更）",
    "move.intro":
      "このトークンを新しいスマートフォンへ移します。コピーはしません。新しいスマートフォンで利用開始が終わると、この端末のトークンは自動で消え、使えなくなります。それまでは、この端末のワンタイムパスワードをそのまま使えます。",
    "move.steps":
      "1. ここで、新しいスマートフォンで入力する利用開始パスワードを決めます。2. 銀行が新しいユーザーIDを発行し、この画面とメールでお知らせします。3. 新しいスマートフォンにアプリを入れ、サービスID・新しいユーザーID・決めたパスワードで利用開始します。",
    "move.password": "新しい利用開始パスワード（4〜8桁の数字）",
    "move.password_hint": "新しいスマートフォンで入力します。1234 や 1111 のような当てられやすい番号は使えません。",
    "move.password_again": "確認のため、同じパスワードをもう一度",
    "move.pin": "このアプリの暗証番号（6桁）",
    "move.submit": "機種変更を始める",
    "move.sending": "銀行に依頼しています…",
    "move.back": "やめる",
    "move.ids_heading": "新しいスマートフォンで利用開始してください",
    "move.ids_intro": "新しいスマートフォンのアプリで、次の番号と、いま決めた利用開始パスワードを入力してください。",
    "move.service_id": "サービスID",
    "move.new_user_id": "新しいユーザーID",
    "move.mailed": "同じ番号を、銀行からのメールでもお知らせしています。",
    "move.now": "今すぐ新しいスマートフォンで行ってください。この画面は閉じてもかまいません。",
    "move.expires": "{date} までに利用開始しないと、この機種変更は無効になり、この端末のトークンをそのまま使えます。",
    "move.waiting": "新しいスマートフォンでの利用開始を待っています。",
    "move.check": "状況を確認する",
    "move.cancel": "機種変更を取り消す",
    "move.to_list": "一覧へ",
    "move.still_pending": "まだ新しいスマートフォンで利用開始されていません。",
    "move.cancelled": "機種変更を取り消しました。{name} はこの端末でそのまま使えます。",
    "move.expired": "機種変更の期限が過ぎました。{name} はこの端末でそのまま使えます。",
    "move.moved_heading": "新しいスマートフォンへ移りました",
    "move.moved":
      "{name} は新しいスマートフォン（ユーザーID 末尾 {last}）へ移りました。この端末からは削除しました。",
    "move.off_heading": "この銀行では、アプリでの機種変更を受け付けていません",
    "move.off":
      "インターネットバンキングで「ワンタイムパスワード利用解除」を行い、翌日以降に新しいスマートフォンで利用開始の手続きをしてください。それまでは、この端末のワンタイムパスワードを使えます。",
    "move.offline":
      "機種変更には銀行との通信が必要です。銀行につながりませんでした。何も変わっていません。ネットワークにつながってから、もう一度お試しください。",
    "move.lost_phone":
      "古いスマートフォンをなくした場合は、この方法は使えません。インターネットバンキングの「ワンタイムパスワード利用解除」をしてください。",

    "error.moves_not_offered":
      "この銀行では、アプリでの機種変更を受け付けていません。インターネットバンキングで「ワンタイムパスワード利用解除」を行い、翌日以降に新しいスマートフォンで利用開始してください。",
    "error.no_pending_move": "銀行で待っている機種変更はありません。",
    "error.weak_activation_password":
      "この利用開始パスワードは当てられやすいため使えません（1234、1111、誕生日の年など）。別の番号にしてください。",
    "error.registration_moved":
      "このトークンは新しいスマートフォン（ユーザーID 末尾 {last}）へ移りました。この端末からは削除しました。",
    "error.passwords_differ": "2回入力したパスワードが違います。同じ番号を入力してください。",
  },
  en: {
    "delete.at_bank": "Also end use at the bank",
    "delete.at_bank_hint":
      "The bank will then refuse this token's passwords too. To take the token to a new phone, use “Move to a new phone” instead of deleting.",
    "delete.done_ended": "Use of {name} was ended at the bank, and it was deleted from this device.",
    "delete.done_already_ended": "{name} had already been ended at the bank. It was deleted from this device.",
    "delete.kept_offline":
      "The bank cannot be reached, so nothing was ended or deleted: {name} is still here. Try again once online.",
    "delete.kept_refused":
      "The bank did not accept this token's request to end its use. {name} was not deleted. Please call the bank.",

    "list.move": "Move to a new phone",
    "list.moving": "Moving to a new phone (until {date}).",
    "move.heading": "Move to a new phone",
    "move.intro":
      "This token moves to your new phone; it is not copied. As soon as the new phone is set up, the token on this device is removed and stops working. Until then, keep using this device's one-time passwords as before.",
    "move.steps":
      "1. Choose here the activation password you will type on the new phone. 2. The bank issues a new user ID and shows it on this screen and by mail. 3. On the new phone, install the app and set it up with the service ID, the new user ID and the password you chose.",
    "move.password": "New activation password (4–8 digits)",
    "move.password_hint": "You type it on the new phone. Easy guesses such as 1234 or 1111 are not accepted.",
    "move.password_again": "The same password again",
    "move.pin": "This app's PIN (6 digits)",
    "move.submit": "Start the move",
    "move.sending": "Asking the bank…",
    "move.back": "Cancel",
    "move.ids_heading": "Now set up the new phone",
    "move.ids_intro": "In the app on the new phone, type these numbers and the activation password you just chose.",
    "move.service_id": "Service ID",
    "move.new_user_id": "New user ID",
    "move.mailed": "The bank has also sent these numbers to you by mail.",
    "move.now": "Do it on the new phone now. You may close this screen.",
    "move.expires": "If the new phone is not set up by {date}, this move lapses and the token here keeps working.",
    "move.waiting": "Waiting for the new phone to be set up.",
    "move.check": "Check now",
    "move.cancel": "Cancel the move",
    "move.to_list": "All tokens",
    "move.still_pending": "The new phone has not been set up yet.",
    "move.cancelled": "The move was cancelled. {name} keeps working on this device.",
    "move.expired": "The move lapsed. {name} keeps working on this device.",
    "move.moved_heading": "Moved to the new phone",
    "move.moved":
      "{name} moved to the new phone (user ID ending {last}). It was removed from this device.",
    "move.off_heading": "This bank does not offer moving in the app",
    "move.off":
      "End use of one-time passwords in internet banking, then set up the new phone from the next day on. Until then, this device's one-time passwords keep working.",
    "move.offline":
      "The move needs the bank, which cannot be reached. Nothing changed. Try again once online.",
    "move.lost_phone":
      "If the old phone is lost, this is not the way: end use of one-time passwords in internet banking instead.",

    "error.moves_not_offered":
      "This bank does not offer moving in the app. End use of one-time passwords in internet banking, then set up the new phone from the next day on.",
    "error.no_pending_move": "No move of this token is waiting at the bank.",
    "error.weak_activation_password":
      "This activation password is too easy to guess (such as 1234, 1111 or a year). Please choose another.",
    "error.registration_moved":
      "This token moved to the new phone (user ID ending {last}). It was removed from this device.",
    "error.passwords_differ": "The two passwords differ. Type the same digits twice.",
  },
};

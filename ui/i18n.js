// Every text the customer reads, in Japanese and English (the app lock's in i18n-lock.js, the phone move's in i18n-move.js). Keys are shared; a test checks that
// both languages have every key and the same {placeholders}, and that every error kind and
// every reason of rules.js has its words here.

import { LOCK_STRINGS } from "./i18n-lock.js";
import { MOVE_STRINGS } from "./i18n-move.js";
import rules from "./rules.js";
import { invalidMessage } from "./validate.js";

export const LANGS = ["ja", "en"];

export const STRINGS = {
  ja: {
    "app.title": "ワンタイムパスワード",
    "app.lang_switch": "English",
    "app.lang_switch_label": "Switch to English",
    "app.kiosk_badge": "デモ端末",
    "app.qa_badge": "QA",
    "app.qa_badge_label": "QA用のビルドです。お客さま向けのアプリではありません。",
    "app.loading": "読み込み中…",

    "list.heading": "ワンタイムパスワード",
    "list.add": "トークンを追加",
    "list.empty_title": "トークンがまだありません",
    "list.empty_body":
      "銀行から届いたメールに記載の「サービスID」と「ユーザID」、インターネットバンキングでご自身が決めた「利用開始パスワード」（4〜8桁の数字）を用意して、「トークンを追加」を押してください。",
    "list.show": "表示",
    "list.copy": "コピー",
    "list.rename": "名前を変更",
    "list.delete": "削除",
    "list.move_up": "上へ",
    "list.move_down": "下へ",
    "list.move_up_label": "{name} を上へ移動",
    "list.move_down_label": "{name} を下へ移動",
    "list.pending": "銀行への受け取り通知がまだです。ネットワークにつながると自動で送ります。",
    "list.token_label": "{name} のワンタイムパスワード",

    "code.seconds_left": "残り {n} 秒",
    "code.next": "次のパスワード",
    "code.digits_label": "ワンタイムパスワード {digits}",
    "code.new_code_announce": "新しいワンタイムパスワード {digits}",
    "code.copied": "コピーしました。{n} 秒後にクリップボードから消去します。",
    "code.period_label": "有効時間",

    "activate.heading": "トークンの追加",
    "activate.intro": "銀行からのメールに記載のサービスIDとユーザID、利用開始パスワードを入力して「送信」を押してください。",
    "activate.service_id": "サービスID",
    "activate.service_id_hint": "8桁の数字",
    "activate.user_id": "ユーザID",
    "activate.user_id_hint": "12桁の数字",
    "activate.password": "利用開始パスワード",
    "activate.password_hint": "4〜8桁の数字（インターネットバンキングで決めたもの）",
    "activate.show_password": "表示",
    "activate.hide_password": "隠す",
    "activate.show_password_label": "利用開始パスワードを表示する",
    "activate.hide_password_label": "利用開始パスワードを隠す",
    "activate.submit": "送信",
    "activate.sending": "送信中…",
    "activate.cancel": "戻る",
    "activate.wait_note": "銀行からの返事を待っています。返事はこの画面に表示されますので、このままお待ちください。",

    "invalid.empty": "{field}を入力してください。",
    "invalid.not_digits": "{field}は数字で入力してください（スペースとハイフンは無視されます）。",
    "invalid.wrong_length_exact": "{field}は{min}桁の数字です（入力は{found}桁）。",
    "invalid.wrong_length_range": "{field}は{min}〜{max}桁の数字です（入力は{found}桁）。",
    "invalid.too_long": "{field}は{max}文字以内で入力してください。",
    "invalid.control": "{field}に改行や見えない制御文字が含まれています。取り除いてください。",

    "field.service_id": "サービスID",
    "field.user_id": "ユーザID",
    "field.activation_password": "利用開始パスワード",
    "field.display_name": "トークン表示名",
    "field.added_wording": "追加文言",

    "error.wrong_activation_password":
      "利用開始パスワードが違います。あと {n} 回間違えるとロックされます。インターネットバンキングで決めた4〜8桁の数字を確認してください。",
    "error.wrong_activation_password_last":
      "利用開始パスワードが違います。次に間違えるとロックされます。インターネットバンキングで決めた数字をよく確認してください。",
    "error.registration_locked":
      "利用開始パスワードを続けて間違えたため、このトークンはロックされました。インターネットバンキングでトークンを発行し直してください。",
    "error.registration_expired":
      "トークンの有効期限が切れています。インターネットバンキングでトークンを発行し直してください。",
    "error.already_delivered":
      "このトークンはすでに別の端末で受け取られています。心当たりがない場合は銀行にご連絡ください。新しい端末で使うにはトークンを発行し直してください。",
    "error.registration_ended":
      "このトークンは銀行で利用終了になっています。インターネットバンキングでトークンを発行し直してください。",
    "error.unknown_registration":
      "サービスIDまたはユーザIDが見つかりません。銀行からのメールに記載の番号を確認してください。",
    "error.superseded": "{name} は別の操作で設定し直されたため、この端末から削除しました。",
    "error.attempt_expired": "時間がかかりすぎたため、受け取りを完了できませんでした。もう一度「送信」を押してください。",
    "error.rate_limited": "試行回数が多すぎます。しばらく待ってからもう一度お試しください。",
    "error.rate_limited_secs": "試行回数が多すぎます。{n} 秒ほど待ってからもう一度お試しください。",
    "error.server_unreachable":
      "銀行のサーバーに接続できません。インターネット接続を確認して、もう一度お試しください。",
    "error.tls":
      "銀行のサーバーと安全に通信できませんでした。公共のWi-Fiなどでは別のネットワークでお試しください。",
    "error.server_problem":
      "銀行のサーバーで問題が起きています。時間をおいてもう一度お試しください。続く場合は銀行にご連絡ください。",
    "error.bank_not_authenticated":
      "相手が銀行のサーバーであることを確認できませんでした。入力した情報は送られていません。銀行にご連絡ください。",
    "error.already_on_this_device":
      "このトークンはすでにこの端末に登録されています。「戻る」を押すと、トークン一覧でワンタイムパスワードを確認できます。",
    "error.already_running":
      "このアプリは別のウィンドウですでに開いています。そちらをお使いください。こちらを使うには、もう一方を閉じてから「もう一度試す」を押してください。",
    "error.duplicate_token":
      "このサービスIDとユーザIDのトークンはすでにこの端末にあります。作り直す場合は先に今のトークンを削除してください。",
    "error.token_not_found": "このトークンはすでに削除されています。",
    "error.keychain_unavailable":
      "システムのキーチェーン（鍵の保管場所）を使えません。ログインし直すかロックを解除してから、もう一度お試しください。",
    "error.vault_key_missing":
      "トークンの鍵がキーチェーンから失われたため、この端末に保存されたトークンを開けません。",
    "error.vault_corrupted":
      "この端末に保存されたトークンのデータが壊れているか変更されているため、ワンタイムパスワードを表示できません。",
    "error.vault_changed": "トークンの保存データが別のプログラムから変更されたため、保存しませんでした。もう一度操作してください。",
    "error.vault_too_new": "新しいバージョンのアプリで保存されたデータです。アプリを更新してください。",
    "error.storage_io": "トークンを保存できませんでした。端末の空き容量を確認してください。",
    "error.unsupported_parameters":
      "銀行から届いた設定にこのアプリは対応していません。アプリを更新するか銀行にご連絡ください。",
    "error.insecure_server_url": "このアプリの接続先の設定が安全ではないため、送信しませんでした。",
    "error.device_clock_wrong":
      "この端末の時計が銀行の時刻と1日以上ずれているため、トークンを保存しませんでした。端末の設定で日付と時刻を「自動設定」にしてから、もう一度「送信」を押してください。",
    "error.clipboard_unavailable": "クリップボードを使えません。コードを見ながら入力してください。",
    "error.qa_ca_unusable":
      "QA用の認証局ファイル（SOFTTOKEN_QA_CA）を読み込めません。設定を直すか外して、アプリを起動し直してください。",
    "error.generic": "問題が起きました。もう一度お試しください。",
    "error.heading_damaged": "保存されたトークンを開けません",
    "error.heading_already_running": "アプリはすでに開いています",
    "error.retry": "もう一度試す",
    "error.retrying": "もう一度試しています…",
    "error.back": "戻る",
    "damaged.explain": "次の手順で、もう一度使えるようになります。",
    "damaged.step_keep":
      "「新しく始める」を押します。壊れたデータは削除せず別の名前で残し、空の保存場所を作ります。",
    "damaged.step_bank":
      "インターネットバンキングで、この端末にあったトークンの利用終了と再発行を申し込みます（わからないときは銀行にご連絡ください）。",
    "damaged.step_add": "再発行されたトークンを「トークンを追加」で登録します。",
    "damaged.start_new": "新しく始める",
    "damaged.starting": "準備しています…",
    "damaged.done": "壊れたデータは {file} として残しました。再発行されたトークンを追加してください。",

    "setup.heading": "初期設定",
    "setup.body": "トークンを受け取りました。内容を確認して「次へ」を押してください。",
    "setup.bank": "銀行",
    "setup.service_id": "サービスID",
    "setup.user_id": "ユーザID",
    "setup.next": "次へ",

    "name.heading": "トークン表示名設定",
    "name.rename_heading": "表示名の変更",
    "name.intro":
      "トークンの表示名に追加する文言を入力してください（必要なければ空白のままで構いません）。",
    "name.base": "トークン表示名",
    "name.added": "変更後の追加文言",
    "name.added_hint": "任意・{max}文字以内",
    "name.preview": "表示のされ方",
    "name.register": "登録",
    "name.save": "保存",
    "name.cancel": "キャンセル",

    "otp.heading": "ワンタイムパスワード",
    "otp.instruction":
      "インターネットバンキングの「ワンタイムパスワード利用開始」の画面で、このパスワードを入力してください。",
    "otp.pending":
      "銀行にこのトークンの受け取りがまだ届いていないため、今はこのパスワードを入力しても利用開始できません。ネットワークにつながると自動で届け、届くとこの表示が消えます。それまでお待ちください。",
    "otp.back": "一覧へ",

    "delete.heading": "トークンを削除しますか？",
    "delete.body":
      "「{name}」をこの端末から削除します。削除すると、この端末ではワンタイムパスワードを表示できなくなります。",
    "delete.bank_note":
      "銀行でのワンタイムパスワードの利用終了は別の手続きです。新しいスマートフォンへ移すときはトークンの「機種変更」を、使うのをやめるときは下の「銀行での利用も終了する」を選んでください。",
    "delete.confirm": "削除する",
    "delete.cancel": "キャンセル",
    "delete.done": "{name} を削除しました。",

    "kiosk.reset": "一定時間操作がなかったため、デモのトークンを消去しました。",

    "error.confirmation_not_accepted":
      "銀行がこのトークンでの取引確認を受け付けませんでした。承認も拒否も送られていません。お手数ですが銀行にお電話ください。",
    "error.unknown_confirmation":
      "この依頼はもう銀行にありません（取り消されたか、すでに回答済みです）。取引は行われません。",
    "field.match_number": "確認番号",
    "field.payee_account": "振込先の口座番号",
    "field.amount": "金額",

    "confirm.heading_transfer": "振込の確認",
    "confirm.heading_new_payee": "振込先登録の確認",
    "confirm.heading_limit_change": "限度額変更の確認",
    "confirm.heading_sign_in": "ログインの確認",
    "confirm.lead_transfer": "次の振込を依頼されています。内容がご自身の手続きと同じか確認してください。",
    "confirm.lead_new_payee": "次の振込先の登録を依頼されています。内容を確認してください。",
    "confirm.lead_limit_change": "振込限度額を次の金額に変更する依頼です。内容を確認してください。",
    "confirm.lead_sign_in": "新しい端末からのログインを依頼されています。ご自身の操作か確認してください。",
    "confirm.token": "トークン：{name}",
    "confirm.amount": "金額",
    "confirm.amount_label": "金額 {yen}円",
    "confirm.new_limit": "新しい限度額",
    "confirm.holder": "受取人",
    "confirm.bank": "金融機関",
    "confirm.branch": "支店",
    "confirm.account": "口座",
    "confirm.note": "メモ",
    "confirm.type_ordinary": "普通",
    "confirm.type_current": "当座",
    "confirm.type_savings": "貯蓄",
    "confirm.seconds_left": "回答の残り時間 {n} 秒",
    "confirm.number": "銀行の画面に表示されている2桁の確認番号",
    "confirm.number_hint": "インターネットバンキングの画面に表示された数字を入力してください。",
    "confirm.number_missing": "承認するには、銀行の画面に表示されている2桁の確認番号を入力してください。",
    "confirm.approve": "承認する",
    "confirm.deny": "拒否する",
    "confirm.not_me": "この取引に心当たりがない",
    "confirm.step_approve_transfer": "{holder} さんへ {amount} を振り込むことを承認します。よろしいですか？",
    "confirm.step_approve_other": "この依頼を承認します。よろしいですか？",
    "confirm.step_deny": "この依頼を拒否します。取引は行われません。",
    "confirm.step_not_me": "この依頼を拒否し、取引を止めます。",
    "confirm.final_approve": "承認を確定する",
    "confirm.final_deny": "拒否を確定する",
    "confirm.back": "戻る",
    "confirm.sending": "送信中…",
    "confirm.done": "閉じる",
    "confirm.result_approved": "承認しました。インターネットバンキングの画面に戻って手続きを続けてください。",
    "confirm.result_denied": "拒否しました。この取引は行われません。",
    "confirm.result_not_me":
      "拒否しました。この取引は行われません。ご自身の操作でない場合、IDやパスワードが盗まれているおそれがあります。すぐに銀行にお電話ください。",
    "confirm.result_wrong_number":
      "入力した確認番号が銀行の画面の番号と違ったため、取引は行われませんでした。銀行の画面でもう一度やり直してください。見慣れない画面だった場合は銀行にご連絡ください。",
    "confirm.result_expired": "回答の時間が過ぎたため、この取引は行われませんでした。必要なら銀行の画面でやり直してください。",
    "confirm.result_cancelled": "銀行がこの依頼を取り消しました。取引は行われません。",
    "confirm.tampered":
      "銀行からの取引確認が途中で書き換えられていたため、表示せずに拒否しました（{n} 件）。ご自身で手続きしていない場合は銀行にご連絡ください。",
    "confirm.clock_ahead":
      "この端末の時計は銀行の時刻より約{minutes}分進んでいます。ワンタイムパスワードは銀行の時刻に合わせて表示しています。端末の設定で日付と時刻を「自動設定」にしてください。",
    "confirm.clock_behind":
      "この端末の時計は銀行の時刻より約{minutes}分遅れています。ワンタイムパスワードは銀行の時刻に合わせて表示しています。端末の設定で日付と時刻を「自動設定」にしてください。",
    "confirm.clock_wrong":
      "この端末の時計が銀行の時刻と5分以上ずれているため、取引確認を受け取れません。端末の設定で日付と時刻を「自動設定」にしてください。",

    "offline.open": "オフラインで取引確認",
    "offline.heading": "オフラインの取引確認",
    "offline.intro":
      "インターネットバンキングの画面に「振込先口座番号と金額をアプリに入力してください」と表示されたときに使います。口座番号と金額は、銀行の画面ではなく、請求書など手元の情報を見て入力してください。",
    "offline.account": "振込先の口座番号",
    "offline.account_hint": "7桁の数字",
    "offline.amount": "振込金額（円）",
    "offline.amount_hint": "例：50000",
    "offline.submit": "コードを表示",
    "offline.back": "戻る",
    "offline.for": "口座番号 {account}・{amount} のコード",
    "offline.code_label": "取引確認コード {digits}",
    "offline.seconds_left": "このコードの残り時間 {n} 秒",
    "offline.instruction": "このコードを銀行の画面に入力してください。1分ごとに変わります。",
  },
  en: {
    "app.title": "One-time passwords",
    "app.lang_switch": "日本語",
    "app.lang_switch_label": "日本語に切り替える",
    "app.kiosk_badge": "Demo device",
    "app.qa_badge": "QA",
    "app.qa_badge_label": "QA build, not the customer's app.",
    "app.loading": "Loading…",

    "list.heading": "One-time passwords",
    "list.add": "Add a token",
    "list.empty_title": "No tokens yet",
    "list.empty_body":
      "Have the service ID and user ID from the bank's mail ready, and the activation password (4–8 digits) you chose in internet banking, then choose “Add a token”.",
    "list.show": "Show",
    "list.copy": "Copy",
    "list.rename": "Rename",
    "list.delete": "Delete",
    "list.move_up": "Up",
    "list.move_down": "Down",
    "list.move_up_label": "Move {name} up",
    "list.move_down_label": "Move {name} down",
    "list.pending": "The bank has not yet been told this token arrived. It is sent automatically once online.",
    "list.token_label": "One-time password for {name}",

    "code.seconds_left": "{n} s left",
    "code.next": "Next password",
    "code.digits_label": "One-time password {digits}",
    "code.new_code_announce": "New one-time password {digits}",
    "code.copied": "Copied. It is cleared from the clipboard in {n} seconds.",
    "code.period_label": "Time left",

    "activate.heading": "Add a token",
    "activate.intro":
      "Enter the service ID and user ID from the bank's mail and your activation password, then choose Send.",
    "activate.service_id": "Service ID",
    "activate.service_id_hint": "8 digits",
    "activate.user_id": "User ID",
    "activate.user_id_hint": "12 digits",
    "activate.password": "Activation password",
    "activate.password_hint": "4–8 digits, as you chose in internet banking",
    "activate.show_password": "Show",
    "activate.hide_password": "Hide",
    "activate.show_password_label": "Show the activation password",
    "activate.hide_password_label": "Hide the activation password",
    "activate.submit": "Send",
    "activate.sending": "Sending…",
    "activate.cancel": "Back",
    "activate.wait_note": "Waiting for the bank's answer. It will be shown on this screen: please stay here.",

    "invalid.empty": "Enter the {field}.",
    "invalid.not_digits": "The {field} has digits only (spaces and hyphens are ignored).",
    "invalid.wrong_length_exact": "The {field} has {min} digits ({found} entered).",
    "invalid.wrong_length_range": "The {field} has {min} to {max} digits ({found} entered).",
    "invalid.too_long": "The {field} can have at most {max} characters.",
    "invalid.control": "The {field} contains a line break or invisible control character; remove it.",

    "field.service_id": "service ID",
    "field.user_id": "user ID",
    "field.activation_password": "activation password",
    "field.display_name": "display name",
    "field.added_wording": "added wording",

    "error.wrong_activation_password":
      "The activation password is wrong. {n} more wrong tries lock the token. Check the 4–8 digits you chose in internet banking.",
    "error.wrong_activation_password_last":
      "The activation password is wrong. One more wrong try locks the token. Check the digits you chose in internet banking carefully.",
    "error.registration_locked":
      "Too many wrong activation passwords: this token is locked. Issue the token again in internet banking.",
    "error.registration_expired":
      "This token has expired before it was set up. Issue the token again in internet banking.",
    "error.already_delivered":
      "This token was already set up on another device. If that was not you, contact the bank. To use a new device, issue the token again.",
    "error.registration_ended":
      "Use of this token was ended at the bank. Issue a new token in internet banking.",
    "error.unknown_registration":
      "The bank does not know this service ID or user ID. Check the numbers in the bank's mail.",
    "error.superseded": "{name} was set up again elsewhere, so it was removed from this device.",
    "error.attempt_expired": "The setup took too long and was not completed. Choose Send again.",
    "error.rate_limited": "Too many attempts. Wait a while and try again.",
    "error.rate_limited_secs": "Too many attempts. Wait about {n} seconds and try again.",
    "error.server_unreachable":
      "The bank's server cannot be reached. Check your internet connection and try again.",
    "error.tls":
      "A secure connection to the bank could not be made. On public Wi-Fi, try another network.",
    "error.server_problem":
      "The bank's server has a problem. Try again later; if it persists, contact the bank.",
    "error.bank_not_authenticated":
      "The server could not prove it is the bank. Nothing you typed was revealed. Contact the bank.",
    "error.already_on_this_device":
      "This token is already on this device. Choose “Back” to find its one-time password in your token list.",
    "error.already_running":
      "The app is already open in another window: please use that one. To use this window instead, close the other one, then choose “Try again”.",
    "error.duplicate_token":
      "A token for this service ID and user ID is already on this device. To set it up again, delete the existing one first.",
    "error.token_not_found": "This token was already deleted.",
    "error.keychain_unavailable":
      "The system keychain is locked or unavailable. Log in again or unlock it, then try again.",
    "error.vault_key_missing":
      "The key of the tokens saved on this device is missing from the keychain, so they cannot be opened.",
    "error.vault_corrupted":
      "The tokens saved on this device are damaged or were changed, so their one-time passwords cannot be shown.",
    "error.vault_changed": "The saved tokens were changed by another program, so nothing was saved. Please do it again.",
    "error.vault_too_new": "The tokens were saved by a newer version of the app. Update the app.",
    "error.storage_io": "The tokens could not be saved. Check the free space on this device.",
    "error.unsupported_parameters":
      "The bank sent settings this app does not support. Update the app or contact the bank.",
    "error.insecure_server_url": "This app's server setting is not secure, so nothing was sent.",
    "error.device_clock_wrong":
      "Your phone's clock is more than a day away from the bank's, so the token was not saved. Set your phone's date and time automatically in its settings, then press Send again.",
    "error.clipboard_unavailable": "The clipboard is not available. Type the code as shown.",
    "error.qa_ca_unusable":
      "The QA certificate authority file (SOFTTOKEN_QA_CA) cannot be read. Fix or unset it, then restart the app.",
    "error.generic": "Something went wrong. Please try again.",
    "error.heading_damaged": "The saved tokens cannot be opened",
    "error.heading_already_running": "The app is already open",
    "error.retry": "Try again",
    "error.retrying": "Trying again…",
    "error.back": "Back",
    "damaged.explain": "Three steps make the app usable again:",
    "damaged.step_keep":
      "Choose “Start again”. The damaged data is not deleted: it is kept under another name, and an empty token store is made.",
    "damaged.step_bank":
      "In internet banking, end use of the tokens that were on this device and issue them again (or contact the bank).",
    "damaged.step_add": "Add each re-issued token with “Add a token”.",
    "damaged.start_new": "Start again",
    "damaged.starting": "Preparing…",
    "damaged.done": "The damaged data was kept as {file}. Now add the re-issued tokens.",

    "setup.heading": "Initial setup",
    "setup.body": "The token has arrived. Check the details and choose Next.",
    "setup.bank": "Bank",
    "setup.service_id": "Service ID",
    "setup.user_id": "User ID",
    "setup.next": "Next",

    "name.heading": "Token display name",
    "name.rename_heading": "Rename token",
    "name.intro": "Add wording to the token's display name if you like (it may stay empty).",
    "name.base": "Display name",
    "name.added": "Added wording",
    "name.added_hint": "Optional, up to {max} characters",
    "name.preview": "Shown as",
    "name.register": "Register",
    "name.save": "Save",
    "name.cancel": "Cancel",

    "otp.heading": "One-time password",
    "otp.instruction":
      "Type this password on the “Start using one-time passwords” screen of internet banking.",
    "otp.pending":
      "The bank has not yet been told that this token arrived, so it will not accept this password yet. The app tells the bank by itself once online, and this note then disappears. Please wait until then.",
    "otp.back": "All tokens",

    "delete.heading": "Delete this token?",
    "delete.body":
      "“{name}” will be deleted from this device. This device will then no longer show its one-time passwords.",
    "delete.bank_note":
      "Ending use at the bank is a separate step. For a new phone, use “Move to a new phone”; to stop using it, tick “Also end use at the bank” below.",
    "delete.confirm": "Delete",
    "delete.cancel": "Cancel",
    "delete.done": "{name} was deleted.",

    "kiosk.reset": "No one used the demo for a while, so its tokens were wiped.",

    "error.confirmation_not_accepted":
      "The bank did not accept this token for confirming transactions. Nothing was approved or denied. Please call the bank.",
    "error.unknown_confirmation":
      "This request is no longer at the bank (it was withdrawn or already answered). The transaction will not go ahead.",
    "field.match_number": "number to match",
    "field.payee_account": "payee's account number",
    "field.amount": "amount",

    "confirm.heading_transfer": "Confirm a transfer",
    "confirm.heading_new_payee": "Confirm a new payee",
    "confirm.heading_limit_change": "Confirm a limit change",
    "confirm.heading_sign_in": "Confirm a sign-in",
    "confirm.lead_transfer": "This transfer is waiting for your approval. Check that it is exactly what you asked for.",
    "confirm.lead_new_payee": "Registering this payee is waiting for your approval. Check the details.",
    "confirm.lead_limit_change": "Changing your transfer limit to this amount is waiting for your approval.",
    "confirm.lead_sign_in": "A sign-in from a new device is waiting for your approval. Was it you?",
    "confirm.token": "Token: {name}",
    "confirm.amount": "Amount",
    "confirm.amount_label": "Amount {yen} yen",
    "confirm.new_limit": "New limit",
    "confirm.holder": "Payee",
    "confirm.bank": "Bank",
    "confirm.branch": "Branch",
    "confirm.account": "Account",
    "confirm.note": "Note",
    "confirm.type_ordinary": "Ordinary",
    "confirm.type_current": "Current",
    "confirm.type_savings": "Savings",
    "confirm.seconds_left": "{n} s left to answer",
    "confirm.number": "The 2-digit number shown on the bank's page",
    "confirm.number_hint": "Type the number the internet banking page shows.",
    "confirm.number_missing": "To approve, type the 2-digit number shown on the bank's page.",
    "confirm.approve": "Approve",
    "confirm.deny": "Deny",
    "confirm.not_me": "I did not ask for this",
    "confirm.step_approve_transfer": "You approve a transfer of {amount} to {holder}. Are you sure?",
    "confirm.step_approve_other": "You approve this request. Are you sure?",
    "confirm.step_deny": "You deny this request. The transaction will not go ahead.",
    "confirm.step_not_me": "You deny this request and stop the transaction.",
    "confirm.final_approve": "Yes, approve",
    "confirm.final_deny": "Yes, deny",
    "confirm.back": "Back",
    "confirm.sending": "Sending…",
    "confirm.done": "Close",
    "confirm.result_approved": "Approved. Go back to the internet banking page to continue.",
    "confirm.result_denied": "Denied. The transaction will not go ahead.",
    "confirm.result_not_me":
      "Denied. The transaction will not go ahead. If you did not start it, someone may have your ID and password: call the bank now.",
    "confirm.result_wrong_number":
      "The number you typed is not the one on the bank's page, so the transaction did not go ahead. Start again on the bank's page. If the page looked unfamiliar, contact the bank.",
    "confirm.result_expired": "The time to answer has passed, so the transaction did not go ahead. Start again on the bank's page if you need to.",
    "confirm.result_cancelled": "The bank withdrew this request. The transaction will not go ahead.",
    "confirm.tampered":
      "A confirmation request from the bank was changed on the way, so it was refused and not shown ({n}). If you did not start a transaction, contact the bank.",
    "confirm.clock_ahead":
      "This phone's clock is about {minutes} min ahead of the bank's. Your one-time passwords follow the bank's clock. Set the date and time automatically in the phone's settings.",
    "confirm.clock_behind":
      "This phone's clock is about {minutes} min behind the bank's. Your one-time passwords follow the bank's clock. Set the date and time automatically in the phone's settings.",
    "confirm.clock_wrong":
      "This device's clock is more than 5 minutes away from the bank's, so confirmation requests cannot be received. Set the date and time automatically in the device's settings.",

    "offline.open": "Confirm offline",
    "offline.heading": "Offline confirmation",
    "offline.intro":
      "Use this when the internet banking page says “Enter the payee's account number and the amount in the app”. Type them from what you know (the bill, the payee), not from the bank's page.",
    "offline.account": "Payee's account number",
    "offline.account_hint": "7 digits",
    "offline.amount": "Amount (yen)",
    "offline.amount_hint": "For example 50000",
    "offline.submit": "Show the code",
    "offline.back": "Back",
    "offline.for": "Code for account {account}, {amount}",
    "offline.code_label": "Confirmation code {digits}",
    "offline.seconds_left": "{n} s left for this code",
    "offline.instruction": "Type this code on the bank's page. It changes every minute.",
  },
};

for (const lang of LANGS) Object.assign(STRINGS[lang], LOCK_STRINGS[lang], MOVE_STRINGS[lang]);

// Japanese when the system's language is Japanese, English otherwise.
export function defaultLang(navigatorLanguage) {
  return typeof navigatorLanguage === "string" && /^ja\b/i.test(navigatorLanguage) ? "ja" : "en";
}

// The text for `key` in `lang`, with `{name}` placeholders filled from `params`.
export function translate(lang, key, params = {}) {
  const table = STRINGS[lang] ?? STRINGS.en;
  const text = table[key] ?? STRINGS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

// The placeholders a text uses, sorted, for the completeness test.
export function placeholders(text) {
  return [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
}

// Kinds worded like another kind: nothing more specific would help the customer.
const SHARED_MESSAGE = {
  server_error: "error.server_problem",
  protocol_violation: "error.server_problem",
  // Deliberately opaque in core too: nothing the customer can act on beyond retrying.
  crypto: "error.generic",
  // Its own text names a token and is shown by the start-up notice; a command failing with it
  // has no token to name.
  superseded: "error.generic",
  // The app's own failures that a customer cannot cause through the screens.
  internal: "error.generic",
  not_kiosk: "error.generic",
};

// The text of a refused value of `field` (a `field.*` key suffix).
export function invalidText(lang, result, field) {
  const m = invalidMessage(result, field);
  return translate(lang, m.key, { ...m.params, field: translate(lang, `field.${field}`) });
}

// Why core's weak-number rule refused a PIN (`softtoken_core::weak_number::Weakness`).
const WEAK_REASONS = ["repeated", "sequence", "year", "common"];

// Sentences one after the other: Japanese puts no space after "。".
const sentences = (lang, list) => list.join(lang === "ja" ? "" : " ");

/** How many wrong PINs are left before a wait, in words. */
export function triesText(lang, n) {
  return n > 0 ? translate(lang, "lock.tries_left", { n }) : translate(lang, "lock.tries_none");
}

/** The wait before the next PIN may be tried, `secs` from now, in words. */
export function waitText(lang, secs) {
  if (secs < 120) return translate(lang, "lock.wait", { n: secs });
  return translate(lang, "lock.wait_minutes", { m: Math.floor(secs / 60), s: secs % 60 });
}

// The text of a command's error `{kind, ...}`: by its kind, with the numbers it carries.
export function errorText(lang, e) {
  const kind = e?.kind;
  switch (kind) {
    case "wrong_activation_password":
      if (e.triesLeft === 1) return translate(lang, "error.wrong_activation_password_last");
      return translate(lang, "error.wrong_activation_password", { n: e.triesLeft ?? "?" });
    case "rate_limited":
      return e.retryAfter
        ? translate(lang, "error.rate_limited_secs", { n: e.retryAfter })
        : translate(lang, "error.rate_limited");
    case "wrong_pin":
      return sentences(lang, [
        translate(lang, "error.wrong_pin"),
        e.retryAfter ? waitText(lang, e.retryAfter) : triesText(lang, e.triesLeft),
      ]);
    case "pin_back_off":
      return e.retryAfter ? waitText(lang, e.retryAfter) : translate(lang, "error.pin_back_off");
    case "weak_pin":
      return WEAK_REASONS.includes(e.reason)
        ? translate(lang, `error.weak_pin_${e.reason}`)
        : translate(lang, "error.weak_pin");
    case "registration_moved":
      return translate(lang, "error.registration_moved", { last: e.userIdLast ?? "" });
    case "invalid_input":
      return invalidText(lang, { reason: e.reason, min: e.min, max: e.max, found: e.found }, e.field);
  }
  if (Object.prototype.hasOwnProperty.call(SHARED_MESSAGE, kind)) return translate(lang, SHARED_MESSAGE[kind]);
  if (rules.error_kinds.includes(kind)) return translate(lang, `error.${kind}`);
  return translate(lang, "error.generic");
}

// The texts of the app lock (the PIN, its screens and its errors), in Japanese and English.
// Kept beside i18n.js, which adds them to its STRINGS, so that file stays one screenful per
// concern; the same completeness test covers both.

export const LOCK_STRINGS = {
  ja: {
    "list.security": "アプリのロック（暗証番号）",

    "lock.heading": "アプリはロックされています",
    "lock.intro": "ワンタイムパスワードを見るには、このアプリ用に決めた6桁の暗証番号を入力してください。",
    "lock.pin": "暗証番号（6桁の数字）",
    "lock.submit": "ロックを解除",
    "lock.checking": "確認しています…",
    "lock.forgot": "暗証番号を忘れたとき",
    "lock.tries_left": "あと {n} 回まちがえると、次に入力できるまで待ち時間ができます。",
    "lock.tries_none": "まちがえるたびに、次に入力できるまでの待ち時間が長くなります。",
    "lock.wait": "まちがいが続いたため、あと {n} 秒は入力できません。そのままお待ちください。",
    "lock.wait_minutes": "まちがいが続いたため、あと {m} 分 {s} 秒は入力できません。そのままお待ちください。",

    "pin.hint": "数字6桁。銀行の暗証番号とは別の、このアプリ用の番号です。",
    "pin.old": "いまの暗証番号",
    "pin.new": "暗証番号（6桁の数字）",
    "pin.new_changed": "新しい暗証番号（6桁の数字）",
    "pin.new_hint": "誕生日や 123456、111111 のような当てられやすい番号は使えません。",
    "pin.repeat": "確認のため、同じ番号をもう一度",
    "pin.cancel": "やめる",
    "pin.set_heading": "暗証番号を決める",
    "pin.set_intro":
      "アプリを開くときに入力する6桁の番号を決めてください。スマートフォンを人に貸したり、なくしたりしても、この番号を知らない人にはワンタイムパスワードが見えません。",
    "pin.required_intro":
      "このアプリは、使い始める前に暗証番号を決める必要があります。アプリを開くときに入力する6桁の番号を決めてください。",
    "pin.set_submit": "この番号に決める",
    "pin.change_heading": "暗証番号を変える",
    "pin.change_intro": "いまの暗証番号と、新しい暗証番号を入力してください。",
    "pin.change_submit": "変更する",
    "pin.remove_heading": "アプリのロックをやめる",
    "pin.remove_intro":
      "ロックをやめると、このスマートフォンを持っている人は誰でもワンタイムパスワードを見られます。やめる場合は、いまの暗証番号を入力してください。",
    "pin.remove_submit": "ロックをやめる",
    "pin.sending": "保存しています…",
    "pin.not_same": "2回の番号が同じではありません。もう一度入力してください。",
    "pin.set_done": "暗証番号を決めました。次からはアプリを開くときに入力してください。",
    "pin.changed_done": "暗証番号を変更しました。",
    "pin.removed_done": "アプリのロックをやめました。",

    "forgot.heading": "暗証番号を忘れたとき",
    "forgot.explain":
      "暗証番号がわからないと、この端末のトークンは開けません。アプリにも銀行にも、暗証番号を調べる方法はありません。次の手順で、もう一度使えるようになります。",
    "forgot.step_keep":
      "「トークンを残して新しく始める」を押します。いまのトークンは削除せず、別の名前でこの端末に残します（暗証番号を思い出せば、サポートで戻せる場合があります）。",
    "forgot.step_bank":
      "インターネットバンキングで、トークンの利用終了と再発行を申し込みます（わからないときは銀行にご連絡ください）。",
    "forgot.step_add": "再発行されたトークンを「トークンを追加」で登録し、新しい暗証番号を決めます。",
    "forgot.no_wipe": "まちがえた回数が多くても、アプリがトークンを勝手に消すことはありません。",
    "forgot.confirm": "トークンを残して新しく始める",
    "forgot.starting": "準備しています…",
    "forgot.back": "暗証番号の入力に戻る",
    "forgot.done": "トークンは {file} として残しました。銀行に再発行を申し込んでから、トークンを追加してください。",

    "security.heading": "アプリのロック",
    "security.state_on": "いまは暗証番号でロックしています。アプリを開くときと、しばらく別のアプリを使ったあとに暗証番号を聞きます。",
    "security.state_off":
      "いまはロックしていません。このスマートフォンを持っている人は誰でもワンタイムパスワードを見られます。",
    "security.state_required": "このアプリでは、暗証番号によるロックをやめることはできません。",
    "security.set": "暗証番号を決める",
    "security.change": "暗証番号を変える",
    "security.lock_now": "いますぐロックする",
    "security.remove": "ロックをやめる",
    "security.back": "戻る",
    "security.after": "別のアプリを使ったあと、ロックするまで",
    "security.after_hint": "この時間より長くほかのアプリを使ったり画面を消したりすると、次に開くときに暗証番号を聞きます。",
    "security.after_0": "すぐにロック",
    "security.after_30": "30秒",
    "security.after_60": "1分（おすすめ）",
    "security.after_300": "5分",
    "security.after_900": "15分",
    "security.after_saved": "ロックするまでの時間を変更しました。",

    "confirm.pin": "承認するには暗証番号を入力",
    "confirm.pin_hint": "このアプリの6桁の暗証番号です。取引の承認には毎回必要です。",
    "confirm.pin_missing": "承認するには暗証番号を入力してください。",

    "rolled_back.explain":
      "この端末のトークンのデータが、以前のコピー（バックアップや同期など）に置き換えられています。削除したはずのトークンが戻ってしまうおそれがあるため、このコピーは開きません。",
    "error.heading_rolled_back": "古いコピーのデータは開けません",

    "error.pin_needed": "アプリはロックされています。暗証番号を入力してください。",
    "error.wrong_pin": "暗証番号がちがいます。",
    "error.pin_back_off": "まちがいが続いたため、しばらく入力できません。表示された時間だけお待ちください。",
    "error.weak_pin": "この番号は当てられやすいため使えません。別の番号にしてください。",
    "error.weak_pin_repeated": "同じ数字のくり返し（111111 や 121212 など）は当てられやすいため使えません。別の番号にしてください。",
    "error.weak_pin_sequence": "123456 や 654321 のような並んだ数字は当てられやすいため使えません。別の番号にしてください。",
    "error.weak_pin_year": "年号（1985 など）を含む番号は誕生日などから当てられやすいため使えません。別の番号にしてください。",
    "error.weak_pin_common": "多くの人が使っている番号のため使えません。別の番号にしてください。",
    "field.app_pin": "暗証番号",
    "error.pin_already_set": "暗証番号はすでに決まっています。変える場合は「暗証番号を変える」を使ってください。",
    "error.pin_not_set": "暗証番号はまだ決まっていません。",
    "error.pin_required": "このアプリは、ワンタイムパスワードを表示する前に暗証番号を決める必要があります。",
    "error.kiosk_has_no_lock": "デモ端末にはロックがありません。",
    "error.vault_rolled_back":
      "トークンのデータが以前のコピーに置き換えられているため、開きませんでした。",
  },
  en: {
    "list.security": "App lock (PIN)",

    "lock.heading": "The app is locked",
    "lock.intro": "To see your one-time passwords, enter the 6-digit PIN you chose for this app.",
    "lock.pin": "PIN (6 digits)",
    "lock.submit": "Unlock",
    "lock.checking": "Checking…",
    "lock.forgot": "I forgot my PIN",
    "lock.tries_left": "After {n} more wrong PINs, you will have to wait before you can try again.",
    "lock.tries_none": "Each wrong PIN now makes the wait before the next try longer.",
    "lock.wait": "Too many wrong PINs. You can try again in {n} seconds. Please wait.",
    "lock.wait_minutes": "Too many wrong PINs. You can try again in {m} min {s} s. Please wait.",

    "pin.hint": "6 digits. A number for this app only, not your bank card's PIN.",
    "pin.old": "Your current PIN",
    "pin.new": "PIN (6 digits)",
    "pin.new_changed": "New PIN (6 digits)",
    "pin.new_hint": "Numbers that are easy to guess, such as birthdays, 123456 or 111111, are not accepted.",
    "pin.repeat": "The same number again, to check",
    "pin.cancel": "Cancel",
    "pin.set_heading": "Choose a PIN",
    "pin.set_intro":
      "Choose a 6-digit number to enter when you open the app. If you lend or lose your phone, no one without this number can see your one-time passwords.",
    "pin.required_intro":
      "This app needs a PIN before you can use it. Choose a 6-digit number to enter when you open the app.",
    "pin.set_submit": "Use this PIN",
    "pin.change_heading": "Change the PIN",
    "pin.change_intro": "Enter your current PIN and the new one.",
    "pin.change_submit": "Change",
    "pin.remove_heading": "Turn the app lock off",
    "pin.remove_intro":
      "Without the lock, anyone holding this phone can see your one-time passwords. To turn it off, enter your current PIN.",
    "pin.remove_submit": "Turn the lock off",
    "pin.sending": "Saving…",
    "pin.not_same": "The two numbers are not the same. Please enter them again.",
    "pin.set_done": "Your PIN is set. Enter it from now on when you open the app.",
    "pin.changed_done": "Your PIN was changed.",
    "pin.removed_done": "The app lock is off.",

    "forgot.heading": "If you forgot your PIN",
    "forgot.explain":
      "Without the PIN, the tokens on this device cannot be opened. Neither the app nor the bank can look the PIN up. These steps make the app usable again:",
    "forgot.step_keep":
      "Choose “Keep the tokens aside and start again”. Your tokens are not deleted: they are kept on this device under another name (support may bring them back if you remember the PIN).",
    "forgot.step_bank":
      "In internet banking, ask to end use of the token and to have it issued again (call the bank if you are not sure how).",
    "forgot.step_add": "Add each re-issued token with “Add a token”, and choose a new PIN.",
    "forgot.no_wipe": "However many wrong PINs are entered, the app never deletes your tokens by itself.",
    "forgot.confirm": "Keep the tokens aside and start again",
    "forgot.starting": "Preparing…",
    "forgot.back": "Back to the PIN",
    "forgot.done": "Your tokens were kept as {file}. Ask the bank to issue them again, then add them.",

    "security.heading": "App lock",
    "security.state_on":
      "The app is locked with a PIN. It asks for the PIN when you open it, and after you have used other apps for a while.",
    "security.state_off": "The app is not locked. Anyone holding this phone can see your one-time passwords.",
    "security.state_required": "This app's lock cannot be turned off.",
    "security.set": "Choose a PIN",
    "security.change": "Change the PIN",
    "security.lock_now": "Lock now",
    "security.remove": "Turn the lock off",
    "security.back": "Back",
    "security.after": "Lock after using other apps for",
    "security.after_hint":
      "If you use other apps or turn the screen off for longer than this, the app asks for the PIN when you come back.",
    "security.after_0": "Lock at once",
    "security.after_30": "30 seconds",
    "security.after_60": "1 minute (suggested)",
    "security.after_300": "5 minutes",
    "security.after_900": "15 minutes",
    "security.after_saved": "The time before the app locks was changed.",

    "confirm.pin": "Enter your PIN to approve",
    "confirm.pin_hint": "This app's 6-digit PIN. It is needed for every approval.",
    "confirm.pin_missing": "Enter your PIN to approve.",

    "rolled_back.explain":
      "The tokens on this device were replaced by an older copy (from a backup or a sync tool). A token you deleted could come back with it, so the app does not open this copy.",
    "error.heading_rolled_back": "An older copy of the tokens cannot be opened",

    "error.pin_needed": "The app is locked. Enter your PIN.",
    "error.wrong_pin": "The PIN is wrong.",
    "error.pin_back_off": "Too many wrong PINs. Please wait for the time shown before trying again.",
    "error.weak_pin": "This number is too easy to guess. Please choose another.",
    "error.weak_pin_repeated":
      "Repeated digits (such as 111111 or 121212) are too easy to guess. Please choose another number.",
    "error.weak_pin_sequence":
      "Digits in a row (such as 123456 or 654321) are too easy to guess. Please choose another number.",
    "error.weak_pin_year":
      "A number with a year in it (such as 1985) is easy to guess from a birthday. Please choose another number.",
    "error.weak_pin_common": "Many people use this number. Please choose another.",
    "field.app_pin": "PIN",
    "error.pin_already_set": "A PIN is already set. To change it, use “Change the PIN”.",
    "error.pin_not_set": "No PIN is set yet.",
    "error.pin_required": "This app needs a PIN before it shows one-time passwords.",
    "error.kiosk_has_no_lock": "A demo device has no lock.",
    "error.vault_rolled_back": "The tokens were replaced by an older copy, so they were not opened.",
  },
};

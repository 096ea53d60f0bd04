// The one place that talks to the Rust side. Every function returns a promise; a failure is
// the command's `{kind, message, ...}` object.

function invoke(cmd, args) {
  const tauri = globalThis.__TAURI__;
  if (!tauri?.core?.invoke) {
    return Promise.reject({ kind: "no_backend", message: "not running inside the app" });
  }
  return tauri.core.invoke(cmd, args);
}

/** `{ version, kiosk, kioskIdleSecs, clipboardClearSecs, locale, qa }` */
export const appInfo = () => invoke("app_info");
export const saveLanguage = (language) => invoke("save_language", { language });

/** The tokens in the customer's order, each with its current code and seconds left. */
export const listTokens = () => invoke("list_tokens");

/** Steps 7: fetches the token from the bank and stores it. Resolves to the new token. */
export const activate = (serviceId, userId, password) =>
  invoke("activate", { serviceId, userId, password });

/** Step 9 and rename: sets a token's display name. Resolves to the updated token. */
export const renameToken = (id, base, added) => invoke("rename_token", { id, base, added });

/**
 * Deletes a token from this device; with `endAtBank`, ends its use at the bank first and deletes
 * only once the bank has it ended. Resolves to `{ atBank }`: "not_asked", "ended" or
 * "already_ended".
 */
export const deleteToken = (id, endAtBank) => invoke("delete_token", { id, endAtBank });

export const reorderTokens = (ids) => invoke("reorder_tokens", { ids });

/** Copies the current code; resolves to `{ clearAfterSecs }`. */
export const copyCode = (id) => invoke("copy_code", { id });

/** Kiosk only: wipes all tokens. */
export const kioskReset = () => invoke("kiosk_reset");

/** Retries the bank's delivery acknowledgement of pending tokens; resolves to notices. */
export const resumePending = () => invoke("resume_pending");

/**
 * Puts a damaged vault (or one whose key is gone) aside, renamed, and starts an empty one.
 * Resolves to `{ fileName }` of what was kept, or null when the vault opened after all.
 */
export const startNewVault = () => invoke("start_new_vault");

/** Tells the app the first codes are on screen (for the launch-time measurement). */
export const uiReady = () => invoke("ui_ready");

/**
 * Transaction confirmation: the token's requests waiting at the bank, each already checked by
 * the app. Resolves to `{ requests: [{ id, kind, amountYen, amount, payee, note, secondsLeft,
 * expiresAt, matchRequired }], refused, clockOffSecs }` (`refused`: requests changed on the way,
 * not shown; `clockOffSecs`: the bank's clock minus the phone's, by the bank's authenticated
 * time, when a minute or more, else null).
 */
export const listConfirmations = (id) => invoke("list_confirmations", { id });

/**
 * Answers a request shown by listConfirmations: `decision` is "approve" or "deny", `typedNumber`
 * the two digits of the bank's page when asked, `pin` the app's PIN (an approval needs it when a
 * PIN is set). Resolves to `{ state }` as the bank now has it.
 */
export const answerConfirmation = (id, decision, typedNumber, pin) =>
  invoke("answer_confirmation", { id, decision, typedNumber: typedNumber ?? null, pin: pin ?? null });

/** The offline code for a payee's account number and an amount: `{ code, secondsLeft, ... }`. */
export const offlineCode = (id, accountNumber, amount) =>
  invoke("offline_code", { id, accountNumber, amount });

/**
 * The app lock: `{ pinSet, locked, pinRequired, triesLeftBeforeWait, waitSecs, lockAfterSecs,
 * kiosk }`. Every command below resolves to it, as it stands afterwards.
 */
export const lockStatus = () => invoke("lock_status");

/** Opens the tokens with the app's PIN; fails with `wrong_pin` or `pin_back_off`. */
export const unlock = (pin) => invoke("unlock", { pin });

export const setAppPin = (pin) => invoke("set_app_pin", { pin });

export const changeAppPin = (old, pin) => invoke("change_app_pin", { old, new: pin });

export const removeAppPin = (pin) => invoke("remove_app_pin", { pin });

/** Drops the tokens' keys from memory until the PIN is entered again. */
export const lockNow = () => invoke("lock_now");

/** Seconds in the background after which the app locks. */
export const setLockTimeout = (secs) => invoke("set_lock_timeout", { secs });

/**
 * A forgotten PIN: puts the tokens aside (renamed, kept) and starts an empty store. Resolves to
 * `{ fileName }` of what was kept.
 */
export const forgotAppPin = () => invoke("forgot_app_pin");
export const turnOnBiometric = (pin, lang) => invoke("turn_on_biometric", { pin, lang });
export const turnOffBiometric = () => invoke("turn_off_biometric");
export const unlockWithBiometric = (lang) => invoke("unlock_with_biometric", { lang });

/**
 * The move to a new phone. Each resolves to `{ state, serviceId, newUserId?, newUserIdLast?,
 * expiresAt?, name }`: state "pending" (with the new user ID in full and when it lapses),
 * "moved" (the token was removed; the new user ID's last four digits), "expired", "cancelled"
 * or "none" (the token keeps working here). `pin` is the app's PIN when one is set.
 */
export const startMove = (id, password, passwordAgain, pin) =>
  invoke("start_move", { id, password, passwordAgain, pin: pin ?? null });

export const moveStatus = (id) => invoke("move_status", { id });

export const cancelMove = (id) => invoke("cancel_move", { id });

/** Asks the bank about every pending move; resolves to notices `{ kind, name, userIdLast? }`. */
export const checkMoves = () => invoke("check_moves");

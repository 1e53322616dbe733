import type { Lang, Msg } from "../web/i18n.ts";

/**
 * The account's events in people's words: what happened, and what changed from what to what. Street lines, postal
 * codes and card tokens in an event's data are masked here like everywhere else in the console.
 */

// A factor's own events (enrolled, removed…) are not here: each factor names them (identity/factors/*/factor.ts
// `changeEvents`) and the console service asks the registry first.
export const EVENT_LABELS: Record<string, Msg> = {
  "account.created": { ja: "アカウント作成", en: "Account created" },
  "account.frozen": { ja: "アカウントを凍結", en: "Account frozen" },
  "account.rolled_back": { ja: "変更をまとめて元に戻した", en: "Changes rolled back" },
  "account.recovered": { ja: "アカウントを復旧", en: "Account recovered" },
  "session.created": { ja: "ログイン", en: "Signed in" },
  "session.signed_out": { ja: "ログアウト", en: "Signed out" },
  "session.revoked": { ja: "端末のログアウト", en: "Session ended" },
  "sessions.ended_all": { ja: "すべての端末をログアウト", en: "Every session ended" },
  "sessions.ended_by_support": { ja: "サポートが全端末をログアウト", en: "Support ended every session" },
  "sessions.signed_out_everywhere": { ja: "すべての端末からログアウト", en: "Signed out everywhere" },
  "password.changed": { ja: "パスワード変更", en: "Password changed" },
  "password.reset": { ja: "パスワード再設定", en: "Password reset" },
  "password.reset_requested": { ja: "パスワード再設定を依頼", en: "Password reset requested" },
  "email.changed": { ja: "メールアドレス変更", en: "Email changed" },
  "email.change_requested": { ja: "メールアドレス変更を依頼", en: "Email change requested" },
  "email.change_reverted": { ja: "メールアドレス変更を取り消し", en: "Email change undone" },
  "email.added": { ja: "メールアドレス追加", en: "Email added" },
  "email.removed": { ja: "メールアドレス削除", en: "Email removed" },
  "phone.added": { ja: "電話番号追加", en: "Phone added" },
  "phone.removed": { ja: "電話番号削除", en: "Phone removed" },
  "contact.verified": { ja: "連絡先を確認", en: "Contact verified" },
  "app_password.created": { ja: "アプリ用パスワード作成", en: "App password created" },
  "app_password.revoked": { ja: "アプリ用パスワード無効化", en: "App password revoked" },
  "sign_in_countries.changed": { ja: "ログインを許可する国を変更", en: "Allowed sign-in countries changed" },
  "address.added": { ja: "お届け先を追加", en: "Address added" },
  "address.removed": { ja: "お届け先を削除", en: "Address removed" },
  "address.rolled_back": { ja: "お届け先を元に戻した", en: "Address rolled back" },
  "payment_instrument.added": { ja: "カードを登録", en: "Card added" },
  "payment_instrument.removed": { ja: "カードを削除", en: "Card removed" },
  "payment_instrument.rolled_back": { ja: "カードを元に戻した", en: "Card rolled back" },
  "commerce_settings.changed": { ja: "購入設定を変更", en: "Shopping settings changed" },
  "order.placed": { ja: "注文", en: "Order placed" },
  "order.captured": { ja: "代金を確定", en: "Payment captured" },
  "order.shipped": { ja: "発送", en: "Shipped" },
  "order.delivered": { ja: "配達完了", en: "Delivered" },
  "order.cancelled": { ja: "注文キャンセル", en: "Order cancelled" },
  "order.hold_released": { ja: "保留中の注文をサポートが承認", en: "Held order approved by support" },
  "order.hold_denied": { ja: "保留中の注文をサポートが拒否", en: "Held order denied by support" },
  "order.settled": { ja: "決済を取り消し・返金", en: "Payment voided or refunded" },
  "gift_card.redemption_denied": {
    ja: "保留中のギフトカード使用をサポートが拒否",
    en: "Held gift card redemption denied by support",
  },
  "listing.hold_released": { ja: "保留中の出品をサポートが承認", en: "Held listing approved by support" },
  "listing.hold_denied": { ja: "保留中の出品をサポートが拒否", en: "Held listing denied by support" },
  "payment.voided": { ja: "決済を取り消し", en: "Payment voided" },
  "gift_card.issued": { ja: "ギフトカード発行", en: "Gift card issued" },
  "gift_card.redeemed": { ja: "ギフトカードを使用", en: "Gift card redeemed" },
  "gift_card.voided": { ja: "ギフトカードを無効化", en: "Gift card voided" },
  "gift_card.locked": { ja: "ギフトカード残高を保留", en: "Gift card balance held" },
  "wallet.locked": { ja: "残高を保留", en: "Balance held" },
  "wallet.recredited": { ja: "残高を戻した", en: "Balance re-credited" },
  "listing.created": { ja: "出品", en: "Listing created" },
  "listing.updated": { ja: "出品を編集", en: "Listing edited" },
  "listing.taken_down": { ja: "出品を取り下げ", en: "Listing taken down" },
  "listing.rolled_back": { ja: "出品を元に戻した", en: "Listing rolled back" },
  "not_me.reported": { ja: "本人が「私ではない」と報告", en: "Owner reported “not me”" },
  "case.opened": { ja: "ケース開始", en: "Case opened" },
  "case.window_fixed": { ja: "不正アクセスの開始時刻を判定", en: "Compromise window fixed" },
  "case.window_adjusted": { ja: "開始時刻をサポートが修正", en: "Window adjusted by support" },
  "case.locked_down": { ja: "ロックダウン完了", en: "Lockdown complete" },
  "case.note_added": { ja: "メモを追加", en: "Note added" },
  "recovery.started": { ja: "復旧を開始", en: "Recovery started" },
  "recovery.contact_proven": { ja: "復旧: 連絡先を確認", en: "Recovery: contact proven" },
  "recovery.password_set": { ja: "復旧: パスワード設定", en: "Recovery: password set" },
  "recovery.devices_reviewed": { ja: "復旧: 端末を確認", en: "Recovery: devices reviewed" },
  "risk.second_factor_unfinished": { ja: "2段階目が未完了のまま", en: "Second step left unfinished" },
};

export function eventLabel(type: string, lang: Lang): string {
  return EVENT_LABELS[type]?.[lang] ?? type;
}

const MASKED_KEYS = new Set(["line1", "line2", "postalCode", "postal_code", "gatewayToken", "gateway_token", "token"]);

/** A value for the page: masked when it is a street line, postal code or token; objects flattened to short text. */
export function shown(key: string, v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (MASKED_KEYS.has(key)) return typeof v === "string" && v.length > 0 ? maskTail(v) : "—";
  if (typeof v === "object") {
    return Object.entries(v as Record<string, unknown>)
      .filter(([k]) => k !== "id")
      .map(([k, x]) => `${k}: ${shown(k, x)}`)
      .join(", ");
  }
  return String(v);
}

/** Keeps the first few characters (enough to tell two apart over the phone), hides the rest. */
export function maskTail(v: string): string {
  const chars = [...v];
  const keep = Math.min(3, Math.floor(chars.length / 3));
  return `${chars.slice(0, keep).join("")}${"＊".repeat(Math.max(3, Math.min(8, chars.length - keep)))}`;
}

export interface Change {
  field: string;
  before: string;
  after: string;
}

/**
 * What an event changed: before/after objects (their differing keys), oldX and newX pairs (oldEmail → newEmail),
 * from/to. Nothing for events that carry no change.
 */
export function changesOf(data: Record<string, unknown>): Change[] {
  const out: Change[] = [];
  const b = data.before;
  const a = data.after;
  if ((b && typeof b === "object") || (a && typeof a === "object")) {
    const bo = (b ?? {}) as Record<string, unknown>;
    const ao = (a ?? {}) as Record<string, unknown>;
    for (const k of new Set([...Object.keys(bo), ...Object.keys(ao)])) {
      if (k === "id") continue;
      if (JSON.stringify(bo[k]) === JSON.stringify(ao[k])) continue;
      out.push({ field: k, before: b ? shown(k, bo[k]) : "—", after: a ? shown(k, ao[k]) : "—" });
    }
  }
  for (const k of Object.keys(data)) {
    const m = /^old([A-Z]\w*)$/.exec(k);
    if (!m) continue;
    const nk = `new${m[1]}`;
    if (m[1]?.endsWith("Id")) continue;
    if (nk in data) out.push({ field: m[1]!.toLowerCase(), before: shown(k, data[k]), after: shown(nk, data[nk]) });
  }
  if ("from" in data && "to" in data)
    out.push({ field: "", before: shown("from", data.from), after: shown("to", data.to) });
  return out;
}

/** A few facts of an event worth a glance (amounts, reasons, counts), without ids and without what changesOf shows. */
export function factsOf(data: Record<string, unknown>): string[] {
  const skip = new Set(["before", "after", "from", "to", "caseId", "sessionId", "objectId", "hash"]);
  const out: string[] = [];
  for (const [k, v] of Object.entries(data)) {
    if (skip.has(k) || /^(old|new)[A-Z]/.test(k) || /Id$|Ids$/.test(k)) continue;
    if (v === null || v === undefined || (typeof v === "object" && !Array.isArray(v))) continue;
    out.push(`${k}: ${Array.isArray(v) ? v.map((x) => shown(k, x)).join(", ") : shown(k, v)}`);
    if (out.length >= 4) break;
  }
  return out;
}

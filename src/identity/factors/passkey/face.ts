import type { Executor } from "../../../db/database.ts";
import type { FactorFace } from "../types.ts";
import { passkeyStore as store } from "./store.ts";

/**
 * The passkey on the faces (Factor.face): how many there are, and its own page on the security center
 * (portal/passkey-pages.tsx /passkeys: the list, rename, add and remove, which need the WebAuthn script).
 */
export async function passkeyFace(ex: Executor, accountId: string): Promise<FactorFace> {
  const n = await store.count(ex, accountId);
  return {
    status:
      n > 0
        ? {
            ja: `${n} 個登録済み。端末の指紋・顔認証・画面ロックでログインできます。`,
            en: `${n} registered. Sign in with the device's fingerprint, face or screen lock.`,
          }
        : {
            ja: "未登録。パスワードの代わりに端末の画面ロックでログインでき、偽のサイトでは使えません。",
            en: "None yet. Sign in with the device's screen lock instead of a password; it does not work on a fake site.",
          },
    actions: [
      { label: { ja: "パスキーの確認と追加", en: "See and add passkeys" }, href: "./passkeys", method: "link" },
    ],
  };
}

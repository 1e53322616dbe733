import type { FactorStepUp } from "../identity/factors/types.ts";
import type { Lang } from "../web/i18n.ts";
import { StepUp } from "../web/step-up.tsx";

/**
 * The security center's step-up before a sensitive change (the confirm page, the passkey pages), built from what the
 * account's enrolled factors say of themselves (Factor.stepUp, the registry's `stepUps`): no page names a factor, and
 * the wording is this one copy. What it offers is not what it accepts: the server's reauthenticate gate decides.
 */

type Words = { ja: string; en: string };

/** The ways this account can step up: a passkey's ceremony, and a code typed beside the password. */
export interface StepUpWays {
  ceremony: boolean;
  /** the first enrolled factor with a code (registration order): one code field, its label */
  code: { label: Words; what: Words } | null;
}

export function stepUpWays(list: readonly FactorStepUp[]): StepUpWays {
  const code = list.find((w) => w.kind === "code");
  return {
    ceremony: list.some((w) => w.kind === "ceremony"),
    code: code?.kind === "code" ? { label: code.label, what: code.what } : null,
  };
}

const T = {
  password: { ja: "パスワード", en: "Password" },
  passkey: { ja: "パスキーで確認", en: "Confirm with a passkey" },
  working: { ja: "端末の確認を待っています…", en: "Waiting for your device…" },
  failed: { ja: "確認できませんでした。", en: "Could not confirm." },
  needsScript: {
    ja: "パスキーでの確認には、ブラウザのJavaScriptが必要です。",
    en: "Confirming with a passkey needs JavaScript in your browser.",
  },
  needPasskey: {
    ja: "お手元の端末の別のパスキーで確認してください。",
    en: "Use another passkey on a device you have.",
  },
  needPassword: { ja: "パスワードをもう一度入力してください。", en: "Enter your password again." },
  introPassword: {
    ja: "この変更の前に、もう一度パスワードを入力してください。ログインしたままの端末を他人が使っていても、勝手に変更できないようにするためです。",
    en: "Before this change, enter your password again, so that someone using a device you left signed in cannot make it.",
  },
  introPasskey: {
    ja: "この変更の前に、お手元の端末のパスキーで、ご本人であることを確認してください。ログインしたままの端末を他人が使っていても、勝手に変更できないようにするためです。",
    en: "Before this change, confirm it is you with a passkey on a device you have, so that someone using a device you left signed in cannot make it.",
  },
} as const;

const needCode = (what: Words, lang: Lang) =>
  lang === "ja" ? `パスワードと、${what.ja}を入力してください。` : `Enter your password and ${what.en}.`;
const orCode = (what: Words, lang: Lang) =>
  lang === "ja" ? `または、パスワードと${what.ja}で確認できます。` : `Or confirm with your password and ${what.en}.`;

/** What the step-up asks for, in one sentence (after the page's own reason). */
export function stepUpHow(w: StepUpWays, lang: Lang): string {
  if (w.ceremony) return T.needPasskey[lang];
  return w.code ? needCode(w.code.what, lang) : T.needPassword[lang];
}

/** The confirm page's introduction: a passkey when that is all that meets the gate, otherwise the password. */
export function stepUpIntro(w: StepUpWays, lang: Lang): string {
  return (w.ceremony && !w.code ? T.introPasskey : T.introPassword)[lang];
}

/**
 * StepUp for this account: the ceremony when it has one; the password form with the code field when it has a code,
 * the password alone when it has neither — never the password alone beside a ceremony (it cannot meet the gate).
 */
export function PortalStepUp(p: {
  ways: StepUpWays;
  lang: Lang;
  csrf: string;
  need?: string;
  /** where the passkey script fetches the assertion options and posts the answer */
  ceremony: { options: string; finish: string };
  form: { action: string; hidden: Record<string, string | undefined>; submit: string };
}) {
  const { ways, lang } = p;
  return (
    <StepUp
      need={p.need}
      passkey={
        ways.ceremony
          ? {
              csrf: p.csrf,
              ...p.ceremony,
              button: T.passkey[lang],
              working: T.working[lang],
              failed: T.failed[lang],
              needsScript: T.needsScript[lang],
            }
          : undefined
      }
      or={ways.code ? orCode(ways.code.what, lang) : undefined}
      form={
        ways.code || !ways.ceremony
          ? { ...p.form, passwordLabel: T.password[lang], codeLabel: ways.code?.label[lang] }
          : undefined
      }
    />
  );
}

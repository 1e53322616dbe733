import type { ComponentChildren } from "preact";
import { Actions, Field, Notice, PostForm, Submit } from "./form.tsx";
import { passkeyButton } from "./passkey-assets.ts";

/**
 * The passkey button of every page that runs a WebAuthn ceremony (the security center's add, remove and sign-in, the
 * console's, hosted recovery's): hidden until the passkey script (web/passkey-assets.ts) finds a browser that can,
 * which also hides the no-script note. The button's id says the ceremony: #passkey-add a registration (with the
 * name field), #passkey-signin and #passkey-stepup an assertion. The page must load the passkey scripts.
 */
export interface PasskeyCeremonyProps {
  id: "passkey-add" | "passkey-signin" | "passkey-stepup";
  csrf: string;
  /** where the script fetches the options, and where it posts the browser's answer */
  options: string;
  finish: string;
  button: string;
  working: string;
  failed: string;
  /** what the page says without script (or without WebAuthn) */
  needsScript: string;
  /** a registration's name field (#f-passkey-name, read by the script) */
  nameLabel?: string;
  /** shown above the button only when it can be used */
  intro?: ComponentChildren;
  /** the no-script note as a boxed notice (the default) or a plain paragraph */
  plainNote?: boolean;
}

export function PasskeyCeremony(p: PasskeyCeremonyProps) {
  return (
    <>
      <div id="passkey-js" hidden>
        {p.intro}
        {p.nameLabel ? <Field name="passkey-name" label={p.nameLabel} type="text" maxLength={64} /> : null}
        <Actions>
          <button
            id={p.id}
            {...passkeyButton({
              csrf: p.csrf,
              options: p.options,
              finish: p.finish,
              working: p.working,
              failed: p.failed,
            })}
          >
            {p.button}
          </button>
        </Actions>
        <p id="passkey-status" role="status" aria-live="polite" />
      </div>
      <div id="passkey-nojs">
        {p.plainNote ? (
          <p>{p.needsScript}</p>
        ) : (
          <Notice>
            <p>{p.needsScript}</p>
          </Notice>
        )}
      </div>
    </>
  );
}

/**
 * The step-up before a sensitive change, the same on every page that asks for one: why (`need`), then another
 * passkey when the account has one (a #passkey-stepup ceremony: needs script), then — without script — the password
 * form: with the code field (the authenticator's code or a recovery code) when the account has an authenticator, the
 * password alone when it has nothing that strong. Which of them the account can use is the caller's answer; the
 * server's gate decides whether it was enough.
 */
export function StepUp(p: {
  need?: string;
  /** the step-up's ceremony (#passkey-stepup): the ceremony's own props but its id and the registration's name */
  passkey?: Omit<PasskeyCeremonyProps, "id" | "nameLabel">;
  /** the sentence between the passkey and the form ("or, with your password and …") */
  or?: string;
  form?: {
    action: string;
    hidden: Record<string, string | undefined>;
    passwordLabel: string;
    /** the code field's label; absent: the password alone */
    codeLabel?: string;
    submit: string;
  };
}) {
  const f = p.form;
  return (
    <>
      {p.need ? (
        <Notice tone="warn">
          <p>{p.need}</p>
        </Notice>
      ) : null}
      {p.passkey ? <PasskeyCeremony id="passkey-stepup" {...p.passkey} /> : null}
      {f && p.passkey && p.or ? <p>{p.or}</p> : null}
      {f ? (
        <PostForm action={f.action} hidden={f.hidden}>
          <Field name="password" type="password" label={f.passwordLabel} autocomplete="current-password" required />
          {f.codeLabel ? (
            <Field
              name="code"
              type="text"
              label={f.codeLabel}
              autocomplete="one-time-code"
              inputMode="numeric"
              required
              maxLength={24}
            />
          ) : null}
          <Actions>
            <Submit>{f.submit}</Submit>
          </Actions>
        </PostForm>
      ) : null}
    </>
  );
}

import type { ComponentChildren } from "preact";

/** A POST form to our own origin (the CSP allows no other). Hidden fields carry the link token and the language. */
export function PostForm(props: {
  action: string;
  hidden: Record<string, string | undefined>;
  children: ComponentChildren;
}) {
  return (
    <form method="post" action={props.action}>
      {Object.entries(props.hidden).map(([name, value]) =>
        value === undefined ? null : <input type="hidden" name={name} value={value} key={name} />,
      )}
      {props.children}
    </form>
  );
}

export interface FieldProps {
  name: string;
  label: string;
  type: "password" | "text" | "email";
  autocomplete?: string;
  /** shown under the label and tied to the input with aria-describedby */
  hint?: ComponentChildren;
  error?: string | undefined;
  required?: boolean;
  minLength?: number;
  maxLength?: number;
  /** what the field held when the form comes back with an error (never a password) */
  value?: string | undefined;
  /** "numeric" brings up the number pad on phones (codes) */
  inputMode?: "numeric" | "email" | "tel" | undefined;
  /**
   * For the script that checks the rules as you type (web/password-rules.js): the id of the rules' list, of the line
   * it writes to, and the length bounds. Without the script, nothing.
   */
  rules?: { list: string; live: string; min: number; max: number };
}

/** A labelled input; its hint and error are read out with it (aria-describedby), and an error marks it invalid. */
export function Field(p: FieldProps) {
  const id = `f-${p.name}`;
  const described = [p.hint ? `${id}-hint` : null, p.error ? `${id}-error` : null].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{p.label}</label>
      {p.hint ? (
        <div class="hint" id={`${id}-hint`}>
          {p.hint}
        </div>
      ) : null}
      {p.error ? (
        <p class="error" id={`${id}-error`}>
          {p.error}
        </p>
      ) : null}
      <input
        id={id}
        name={p.name}
        // preact's input types are a union keyed on `type`; ours are all text-like
        type={p.type as "text"}
        autocomplete={p.autocomplete}
        required={p.required}
        minLength={p.minLength}
        maxLength={p.maxLength}
        value={p.type === "password" ? undefined : p.value}
        inputMode={p.inputMode}
        data-rules={p.rules?.list}
        data-live={p.rules?.live}
        data-min={p.rules?.min}
        data-max={p.rules?.max}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={described || undefined}
      />
    </div>
  );
}

export function Actions({ children }: { children: ComponentChildren }) {
  return <div class="actions">{children}</div>;
}

export function Submit({ children }: { children: ComponentChildren }) {
  return <button type="submit">{children}</button>;
}

export function LinkButton(props: { href: string; secondary?: boolean; children: ComponentChildren }) {
  return (
    <a class={props.secondary ? "button secondary" : "button"} href={props.href}>
      {props.children}
    </a>
  );
}

/** A boxed message; `alert` ones are announced by screen readers when the page loads after a form post. */
export function Notice(props: {
  tone?: "info" | "ok" | "warn" | "error";
  alert?: boolean;
  children: ComponentChildren;
}) {
  return (
    <div class={`notice ${props.tone ?? "info"}`} role={props.alert ? "alert" : undefined}>
      {props.children}
    </div>
  );
}

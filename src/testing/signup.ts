import type { App } from "../app.ts";
import type { RequestContext } from "../shared/context.ts";

/**
 * Both steps of a sign-up in process, reading the code from the local mailbox (the notifications table): for
 * benchmarks and tools that need a signed-in account without an HTTP client.
 */
export async function signUpInProcess(
  app: App,
  input: { email: string; password: string; context: RequestContext; language?: "ja" | "en" },
): Promise<{ accountId: string; session: { id: string; token: string; expiresAt: string } }> {
  const { signupId } = await app.identity.createAccount(input);
  const [mail] = await app.outbox.listMailbox({ recipient: input.email, limit: 1 });
  const code = mail?.template === "signup_code" ? mail.body.match(/\b(\d{6})\b/)?.[1] : undefined;
  if (!code) throw new Error(`no sign-up code for ${input.email} (is the address taken?)`);
  return app.identity.confirmSignUp({ signupId, code, context: input.context });
}

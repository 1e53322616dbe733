// The shop's pages: preact JSX rendered to a string on the server (text is escaped by construction), no script,
// one stylesheet from the shop itself. Japanese, as the shop's customers read it.
import type { ComponentChildren } from "preact";
import { renderToString } from "preact-render-to-string";
import { type Product, TEST_CARDS, yen } from "./catalogue.ts";
import type { ShopListing, ShopNotice } from "./state.ts";

export const SHOP_NAME = "まもり商店";

export interface Chrome {
  signedIn: boolean;
  cartCount: number;
  notices?: ShopNotice[];
}

export function page(title: string, chrome: Chrome, body: ComponentChildren): string {
  return `<!doctype html>${renderToString(
    <html lang="ja">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} | ${SHOP_NAME}`}</title>
        <link rel="stylesheet" href="/style.css" />
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/">
            {SHOP_NAME}
          </a>
          <nav aria-label="メニュー">
            <ul>
              <li>
                <a href="/cart">カート（{chrome.cartCount}）</a>
              </li>
              {chrome.signedIn ? (
                <>
                  <li>
                    <a href="/orders">注文履歴</a>
                  </li>
                  <li>
                    <a href="/gift-cards">ギフト券</a>
                  </li>
                  <li>
                    <a href="/sell">出品</a>
                  </li>
                  <li>
                    <a href="/security">セキュリティ</a>
                  </li>
                  <li>
                    <form method="post" action="/signout">
                      <button type="submit" class="link">
                        ログアウト
                      </button>
                    </form>
                  </li>
                </>
              ) : (
                <>
                  <li>
                    <a href="/signin">ログイン</a>
                  </li>
                  <li>
                    <a href="/signup">新規登録</a>
                  </li>
                </>
              )}
            </ul>
          </nav>
        </header>
        <main>
          {chrome.notices?.length ? (
            <section class="banner" aria-label="お知らせ">
              <h2>お知らせ</h2>
              <ul>
                {chrome.notices.map((n) => (
                  <li key={n.at}>{n.text}</li>
                ))}
              </ul>
              <form method="post" action="/notices/dismiss">
                <button type="submit" class="secondary">
                  確認しました
                </button>
              </form>
            </section>
          ) : null}
          <h1>{title}</h1>
          {body}
        </main>
        <footer>
          <p>
            {SHOP_NAME}
            はMamoriのデモ用のお店です。本物の商品・お金は動きません（テスト決済）。ログイン・セッション・不正対策は
            Mamoriが担当しています。
          </p>
        </footer>
      </body>
    </html>,
  )}`;
}

export const Err = ({ message }: { message?: string | undefined }) =>
  message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;

export function Home({ products, listings }: { products: readonly Product[]; listings: ShopListing[] }) {
  return (
    <>
      <h2>お店の商品</h2>
      <ul class="grid">
        {products.map((p) => (
          <li class="card" key={p.id}>
            <h3>{p.title}</h3>
            <p>{p.blurb}</p>
            <p class="price">{yen(p.price)}</p>
            <form method="post" action="/cart/add">
              <input type="hidden" name="sku" value={p.id} />
              <button type="submit" aria-label={`${p.title}をカートに入れる`}>
                カートに入れる
              </button>
            </form>
          </li>
        ))}
      </ul>
      <h2>出品者の商品</h2>
      {listings.length === 0 ? (
        <p>まだ出品はありません。ログインして「出品」から出品できます。</p>
      ) : (
        <ul class="grid">
          {listings.map((l) => (
            <li class="card" key={l.id}>
              <h3>{l.title}</h3>
              <p class="price">{yen(l.price)}</p>
              <p>残り {l.quantity} 点</p>
              <a class="button" href={`/checkout?listing=${encodeURIComponent(l.id)}`}>
                購入手続きへ
              </a>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

export function SignUpForm({ email, error }: { email?: string; error?: string }) {
  return (
    <>
      <Err message={error} />
      <form method="post" action="/signup" class="stack">
        <label for="email">メールアドレス</label>
        <input id="email" name="email" type="email" autocomplete="email" required value={email ?? ""} />
        <label for="password">パスワード</label>
        <input id="password" name="password" type="password" autocomplete="new-password" required minLength={8} />
        <p class="hint">
          長めの文章がおすすめです（例：単語を4つ以上つなげる）。他のサイトと同じものは使わないでください。
        </p>
        <button type="submit">確認コードを送る</button>
      </form>
      <p>
        すでに登録済みの方は <a href="/signin">ログイン</a>
      </p>
    </>
  );
}

export function SignUpCode({ signupId, email, error }: { signupId: string; email: string; error?: string }) {
  return (
    <>
      <Err message={error} />
      <p>
        {email}{" "}
        に6桁の確認コードを送りました。メールに書かれたコードを入力してください（すでに登録済みのアドレスには、コードの代わりにその旨のお知らせが届きます）。
      </p>
      <DemoMailHint email={email} />
      <form method="post" action="/signup/confirm" class="stack">
        <input type="hidden" name="signupId" value={signupId} />
        <input type="hidden" name="email" value={email} />
        <label for="code">確認コード</label>
        <input id="code" name="code" inputMode="numeric" autocomplete="one-time-code" required />
        <button type="submit">登録する</button>
      </form>
    </>
  );
}

function DemoMailHint({ email }: { email: string }) {
  return (
    <p class="hint">
      デモではメールは送信されず、Mamoriのメールボックスに入ります。別のターミナルで{" "}
      <code>npx mamori mail --to {email} --limit 1</code> を実行すると読めます。
    </p>
  );
}

/** Mamori's hosted recovery (README "Hosted recovery"): a frozen account is opened again there, not in the shop. */
function RecoverLink({ href }: { href: string }) {
  return (
    <p>
      アカウントが保護（凍結）された方は <a href={href}>アカウントの復旧</a>
    </p>
  );
}

export function SignInForm({
  email,
  error,
  next,
  recoverUrl,
}: {
  email?: string;
  error?: string;
  next?: string;
  recoverUrl: string;
}) {
  return (
    <>
      <Err message={error} />
      <form method="post" action="/signin" class="stack">
        <input type="hidden" name="next" value={next ?? "/"} />
        <label for="email">メールアドレス</label>
        <input id="email" name="email" type="email" autocomplete="username" required value={email ?? ""} />
        <label for="password">パスワード</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <button type="submit">ログイン</button>
      </form>
      <p>
        はじめての方は <a href="/signup">新規登録</a>
      </p>
      <RecoverLink href={recoverUrl} />
    </>
  );
}

const FACTOR_LABEL: Record<string, string> = {
  email_code: "メールで届いたコード",
  totp: "認証アプリのコード",
  recovery_code: "リカバリーコード",
};

export function Challenge({
  challengeToken,
  factors,
  email,
  next,
  error,
  recoverUrl,
}: {
  challengeToken: string;
  factors: string[];
  email: string;
  next: string;
  error?: string;
  recoverUrl: string;
}) {
  return (
    <>
      <Err message={error} />
      <p>
        いつもと違う環境からのログインか、追加の確認を設定しているアカウントです。本人確認のため、次のいずれかを入力してください。
      </p>
      {factors.includes("email_code") ? (
        <>
          <p class="hint">
            コードが届かないときは、「アカウントを保護しました」というお知らせメールが届いていないかご確認ください。保護中のアカウントには、復旧が済むまでログインできません。
          </p>
          <RecoverLink href={recoverUrl} />
          <DemoMailHint email={email} />
        </>
      ) : null}
      <form method="post" action="/signin/challenge" class="stack">
        <input type="hidden" name="challengeToken" value={challengeToken} />
        <input type="hidden" name="email" value={email} />
        <input type="hidden" name="next" value={next} />
        <fieldset>
          <legend>確認の方法</legend>
          {factors.map((f, i) => (
            <label class="choice" key={f}>
              <input type="radio" name="factor" value={f} checked={i === 0} /> {FACTOR_LABEL[f] ?? f}
            </label>
          ))}
        </fieldset>
        <label for="code">コード</label>
        <input id="code" name="code" autocomplete="one-time-code" required />
        <button type="submit">確認してログイン</button>
      </form>
    </>
  );
}

export interface CartLine {
  product: Product;
  quantity: number;
}

export function Cart({ lines }: { lines: CartLine[] }) {
  if (lines.length === 0)
    return (
      <p>
        カートは空です。<a href="/">商品を見る</a>
      </p>
    );
  const total = lines.reduce((n, l) => n + l.product.price * l.quantity, 0);
  return (
    <>
      <table>
        <caption>カートの中身</caption>
        <thead>
          <tr>
            <th scope="col">商品</th>
            <th scope="col">数量</th>
            <th scope="col">小計</th>
            <th scope="col">
              <span class="sr">操作</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {lines.map((l) => (
            <tr key={l.product.id}>
              <td>{l.product.title}</td>
              <td>{l.quantity}</td>
              <td>{yen(l.product.price * l.quantity)}</td>
              <td>
                <form method="post" action="/cart/remove">
                  <input type="hidden" name="sku" value={l.product.id} />
                  <button type="submit" class="secondary" aria-label={`${l.product.title}を削除`}>
                    削除
                  </button>
                </form>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="total">合計 {yen(total)}</p>
      <a class="button" href="/checkout">
        レジに進む
      </a>
    </>
  );
}

export interface CheckoutView {
  lines: { title: string; quantity: number; price: number }[];
  listingId?: string;
  hasGiftCards: boolean;
  hasPhysical: boolean;
  defaultRecipient: string;
  addresses: { id: string; label: string }[];
  instruments: { id: string; label: string }[];
  giftBalance: number;
  error?: string;
}

export function Checkout(v: CheckoutView) {
  const total = v.lines.reduce((n, l) => n + l.price * l.quantity, 0);
  return (
    <>
      <Err message={v.error} />
      <ul class="lines">
        {v.lines.map((l) => (
          <li key={l.title}>
            {l.title} × {l.quantity} … {yen(l.price * l.quantity)}
          </li>
        ))}
      </ul>
      <p class="total">お支払い合計 {yen(total)}</p>
      <form method="post" action="/checkout" class="stack">
        {v.listingId ? <input type="hidden" name="listing" value={v.listingId} /> : null}
        {v.hasPhysical ? (
          <fieldset>
            <legend>お届け先</legend>
            {v.addresses.map((a, i) => (
              <label class="choice" key={a.id}>
                <input type="radio" name="addressId" value={a.id} checked={i === 0} /> {a.label}
              </label>
            ))}
            <label class="choice">
              <input type="radio" name="addressId" value="new" checked={v.addresses.length === 0} /> 新しいお届け先
            </label>
            <label for="name">お名前</label>
            <input id="name" name="name" autocomplete="name" />
            <label for="postalCode">郵便番号</label>
            <input id="postalCode" name="postalCode" autocomplete="postal-code" />
            <label for="city">都道府県・市区町村</label>
            <input id="city" name="city" autocomplete="address-level2" />
            <label for="line1">番地・建物</label>
            <input id="line1" name="line1" autocomplete="address-line1" />
          </fieldset>
        ) : null}
        {v.hasGiftCards ? (
          <>
            <label for="recipientEmail">ギフト券の送り先メールアドレス</label>
            <input id="recipientEmail" name="recipientEmail" type="email" required value={v.defaultRecipient} />
          </>
        ) : null}
        <fieldset>
          <legend>お支払い方法</legend>
          {v.instruments.map((c, i) => (
            <label class="choice" key={c.id}>
              <input type="radio" name="pay" value={`instrument:${c.id}`} checked={i === 0} /> {c.label}
            </label>
          ))}
          {TEST_CARDS.map((c, i) => (
            <label class="choice" key={c.token}>
              <input
                type="radio"
                name="pay"
                value={`token:${c.token}`}
                checked={v.instruments.length === 0 && i === 0}
              />{" "}
              新しいカード：{c.label}
            </label>
          ))}
          {v.giftBalance > 0 && !v.hasGiftCards ? (
            <label class="choice">
              <input type="radio" name="pay" value="gift_balance" /> ギフト券残高（{yen(v.giftBalance)}）
            </label>
          ) : null}
        </fieldset>
        <button type="submit">注文を確定する</button>
      </form>
    </>
  );
}

export function StepUp({ next, error, codeSent }: { next: string; error?: string; codeSent?: boolean }) {
  return (
    <>
      <Err message={error} />
      <p>大切な操作のため、もう一度パスワードを入力してください。メールで届いたコードが必要な場合もあります。</p>
      {codeSent ? <p class="ok">確認コードをメールで送りました。</p> : null}
      <form method="post" action="/reauth" class="stack">
        <input type="hidden" name="next" value={next} />
        <label for="password">パスワード</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <label for="emailCode">メールで届いたコード（求められた場合）</label>
        <input id="emailCode" name="emailCode" autocomplete="one-time-code" />
        <button type="submit">確認する</button>
      </form>
      <form method="post" action="/reauth/code">
        <input type="hidden" name="next" value={next} />
        <button type="submit" class="secondary">
          コードをメールで受け取る
        </button>
      </form>
    </>
  );
}

export interface OrderRow {
  id: string;
  status: string;
  total: number;
  createdAt: string;
  items: { title: string; quantity: number }[];
  giftCards: { last4: string; amount: number; status: string }[];
  cancelledByMamori: boolean;
}

const STATUS: Record<string, string> = {
  placed: "注文済み",
  on_hold: "確認中（保留）",
  pending_payment: "お支払い待ち",
  paid: "お支払い済み",
  captured: "お支払い済み",
  shipped: "発送済み",
  delivered: "お届け済み",
  cancelled: "キャンセル",
  refunded: "返金済み",
};
const GIFT_STATUS: Record<string, string> = { active: "有効", redeemed: "登録済み", locked: "停止中", void: "無効" };
export const statusLabel = (s: string) => STATUS[s] ?? s;

export function Orders({ orders, flash }: { orders: OrderRow[]; flash?: string }) {
  return (
    <>
      {flash ? <p class="ok">{flash}</p> : null}
      {orders.length === 0 ? <p>まだ注文はありません。</p> : null}
      <ul class="orders">
        {orders.map((o) => (
          <li class="card" key={o.id} id={`order-${o.id}`}>
            <h2 class="h3">
              注文 <code>{o.id.slice(0, 8)}</code> — {statusLabel(o.status)}
            </h2>
            <p>
              {new Date(o.createdAt).toLocaleString("ja-JP", { timeZone: "Asia/Tokyo" })}（日本時間）・{yen(o.total)}
            </p>
            <ul>
              {o.items.map((i) => (
                <li key={i.title}>
                  {i.title} × {i.quantity}
                </li>
              ))}
            </ul>
            {o.giftCards.length ? (
              <p>
                ギフト券：
                {o.giftCards
                  .map((g) => `•••• ${g.last4}（${yen(g.amount)}・${GIFT_STATUS[g.status] ?? g.status}）`)
                  .join("、")}
                。コードは送り先にメールで届きます。
              </p>
            ) : null}
            {o.cancelledByMamori ? (
              <p class="warn">この注文は不正利用の疑いで取り消され、請求は取り消されました。</p>
            ) : null}
            {["placed", "pending_payment", "on_hold"].includes(o.status) && o.giftCards.length === 0 ? (
              <form method="post" action={`/orders/${encodeURIComponent(o.id)}/cancel`}>
                <button type="submit" class="secondary">
                  この注文をキャンセル
                </button>
              </form>
            ) : null}
          </li>
        ))}
      </ul>
    </>
  );
}

/** The ledger's memos (English, for support) as the shopper reads them. */
function memoLabel(memo: string | null, amount: number): string {
  if (memo === "gift card redeemed") return "ギフト券の登録";
  if (memo?.startsWith("order ")) return "お支払い";
  if (memo && /^(locked|voided) by case/.test(memo)) return "不正利用の調査による取り消し";
  if (memo?.startsWith("re-credited by case")) return "不正利用の調査による返還";
  return amount > 0 ? "入金" : "出金";
}

export function GiftCards({
  balance,
  entries,
  flash,
  error,
}: {
  balance: number;
  entries: { amount: number; memo: string | null; at: string }[];
  flash?: string;
  error?: string;
}) {
  return (
    <>
      <Err message={error} />
      {flash ? <p class="ok">{flash}</p> : null}
      <p class="total">ギフト券残高 {yen(balance)}</p>
      <form method="post" action="/gift-cards/redeem" class="stack">
        <label for="code">ギフト券のコード</label>
        <input id="code" name="code" autocomplete="off" required />
        <button type="submit">残高に登録する</button>
      </form>
      <p>
        ギフト券を贈るには、<a href="/">お店の商品</a>からギフト券をカートに入れてください。
      </p>
      {entries.length ? (
        <>
          <h2>残高の履歴</h2>
          <ul>
            {entries.map((e) => (
              <li key={e.at}>
                {new Date(e.at).toLocaleString("ja-JP", { timeZone: "Asia/Tokyo" })}　{e.amount > 0 ? "+" : ""}
                {yen(e.amount)}（{memoLabel(e.memo, e.amount)}）
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </>
  );
}

export function Sell({
  listings,
  products,
  sellerOrders,
  flash,
  error,
}: {
  listings: ShopListing[];
  products: readonly Product[];
  sellerOrders: { id: string; status: string; total: number; buyer: string }[];
  flash?: string;
  error?: string;
}) {
  return (
    <>
      <Err message={error} />
      {flash ? <p class="ok">{flash}</p> : null}
      <h2>出品する</h2>
      <form method="post" action="/sell" class="stack">
        <label for="title">商品名</label>
        <input id="title" name="title" required maxLength={200} />
        <label for="productId">カタログの商品（任意）</label>
        <select id="productId" name="productId">
          <option value="">なし</option>
          {products
            .filter((p) => p.category === "physical")
            .map((p) => (
              <option value={p.id} key={p.id}>
                {p.title}（定価 {yen(p.price)}）
              </option>
            ))}
        </select>
        <label for="price">価格（円）</label>
        <input id="price" name="price" type="number" min={1} max={10000000} required inputMode="numeric" />
        <label for="quantity">数量</label>
        <input id="quantity" name="quantity" type="number" min={1} max={10000} value="1" required />
        <button type="submit">出品する</button>
      </form>
      <h2>あなたの出品</h2>
      {listings.length === 0 ? <p>出品はまだありません。</p> : null}
      <ul>
        {listings.map((l) => (
          <li key={l.id}>
            {l.title}・{yen(l.price)}・残り{l.quantity}点・
            {l.status === "active" ? "出品中" : l.status === "taken_down" ? "不正利用の疑いで停止されました" : "停止中"}
            {l.status === "active" ? (
              <form method="post" action={`/sell/${encodeURIComponent(l.id)}/hold`} class="inline">
                <button type="submit" class="secondary">
                  出品を停止
                </button>
              </form>
            ) : null}
          </li>
        ))}
      </ul>
      <h2>あなたの出品への注文</h2>
      {sellerOrders.length === 0 ? <p>まだ注文はありません。</p> : null}
      <ul>
        {sellerOrders.map((o) => (
          <li key={o.id}>
            <code>{o.id.slice(0, 8)}</code>・{statusLabel(o.status)}・{yen(o.total)}・購入者：{o.buyer}
          </li>
        ))}
      </ul>
    </>
  );
}

export function Message({ text, link }: { text: string; link?: { href: string; label: string } }) {
  return (
    <>
      <p>{text}</p>
      {link ? (
        <p>
          <a href={link.href}>{link.label}</a>
        </p>
      ) : null}
    </>
  );
}

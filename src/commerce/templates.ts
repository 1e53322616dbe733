import type { Definition } from "../notify/templates.ts";

const lines = (...l: string[]) => l.join("\n");

/** Notices of the commerce module (ja/en); joined into the one registry in app.ts. */
export const commerceTemplates = {
  address_added: {
    security: true,
    vars: ["name", "city", "country", "at"],
    ja: {
      subject: "お届け先住所が追加されました",
      body: lines(
        "アカウントに新しいお届け先住所が追加されました。",
        "",
        "宛名: {{name}}",
        "市区町村: {{city}}",
        "国・地域: {{country}}",
        "日時: {{at}}",
        "",
        "ご本人による追加であれば、対応は不要です。",
      ),
    },
    en: {
      subject: "A shipping address was added to your account",
      body: lines(
        "A new shipping address was added to your account.",
        "",
        "Name: {{name}}",
        "City: {{city}}",
        "Country: {{country}}",
        "Time: {{at}}",
        "",
        "If this was you, there is nothing to do.",
      ),
    },
  },
  payment_instrument_added: {
    security: true,
    vars: ["brand", "last4", "at"],
    ja: {
      subject: "お支払い方法が追加されました",
      body: lines(
        "アカウントに新しいお支払い方法が追加されました。",
        "",
        "カード: {{brand}} 末尾 {{last4}}",
        "日時: {{at}}",
        "",
        "ご本人による追加であれば、対応は不要です。",
      ),
    },
    en: {
      subject: "A payment method was added to your account",
      body: lines(
        "A new payment method was added to your account.",
        "",
        "Card: {{brand}} ending in {{last4}}",
        "Time: {{at}}",
        "",
        "If this was you, there is nothing to do.",
      ),
    },
  },
  gift_card_delivered: {
    security: false,
    vars: ["code", "amount"],
    ja: {
      subject: "ギフトカードが届きました",
      body: lines(
        "{{amount}} のギフトカードをお送りします。",
        "",
        "ギフトカード番号: {{code}}",
        "",
        "この番号はご利用になるまで他の方に教えないでください。",
      ),
    },
    en: {
      subject: "You have received a gift card",
      body: lines(
        "Here is a gift card worth {{amount}}.",
        "",
        "Gift card code: {{code}}",
        "",
        "Do not share this code with anyone until you have used it.",
      ),
    },
  },
  fraudulent_listing_refund: {
    security: false,
    vars: ["title", "orderId", "amount", "outcome"],
    ja: {
      subject: "ご注文の出品は不正な出品でした（注文を取り消しました）",
      body: lines(
        "ご注文いただいた「{{title}}」の出品は、乗っ取られたアカウントによる不正な出品であることが判明しました。",
        "",
        "ご注文番号: {{orderId}}",
        "金額: {{amount}}",
        "",
        "ご注文は取り消しました。{{outcome}}",
        "出品者にお支払い・ご連絡をされないようご注意ください。",
      ),
    },
    en: {
      subject: "The listing you bought from was fraudulent; your order is cancelled",
      body: lines(
        'The listing "{{title}}" you ordered from was posted from a taken-over account and was fraudulent.',
        "",
        "Order: {{orderId}}",
        "Amount: {{amount}}",
        "",
        "Your order is cancelled. {{outcome}}",
        "Do not pay or contact the seller outside the store.",
      ),
    },
  },
} satisfies Record<string, Definition>;

/** The `outcome` sentence of fraudulent_listing_refund in the buyer's language. */
export function refundOutcome(language: "ja" | "en", refunded: boolean): string {
  if (language === "ja") {
    return refunded ? "お支払いいただいた代金は全額返金いたします。" : "代金が請求されることはありません。";
  }
  return refunded ? "The payment is refunded in full." : "No payment will be taken.";
}

/** Money for notices: ¥20,000 for JPY; 12.34 USD otherwise (minor units to major). */
export function formatAmount(amount: number, currency: string): string {
  if (currency === "JPY") return `¥${amount.toLocaleString("en-US")}`;
  return `${(amount / 100).toFixed(2)} ${currency}`;
}

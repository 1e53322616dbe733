// The shop's own catalogue: what it sells itself. Prices are the shop's; Mamori records them with each order and
// knows them as market prices (upsertProduct), so a seller's listing far below one is seen for what it is (seed 002).

export type Category = "physical" | "gift_card";

export interface Product {
  id: string;
  title: string;
  price: number;
  category: Category;
  blurb: string;
}

export const PRODUCTS: readonly Product[] = [
  { id: "tea-sencha", title: "静岡の煎茶 100g", price: 1_800, category: "physical", blurb: "朝の一杯に。" },
  { id: "furoshiki", title: "綿の風呂敷（藍）", price: 3_200, category: "physical", blurb: "包んで、運んで、飾って。" },
  { id: "earbuds", title: "ワイヤレスイヤホン", price: 12_800, category: "physical", blurb: "通勤に。出品でも人気。" },
  {
    id: "gift-3000",
    title: "ギフト券 3,000円",
    price: 3_000,
    category: "gift_card",
    blurb: "コードをメールでお届け。",
  },
  {
    id: "gift-10000",
    title: "ギフト券 10,000円",
    price: 10_000,
    category: "gift_card",
    blurb: "コードをメールでお届け。",
  },
];

export const productById = (id: string) => PRODUCTS.find((p) => p.id === id);

/** The gateway's test tokens (Mamori's test gateway, like a real gateway's sandbox): the shop never sees a card number. */
export const TEST_CARDS = [
  { token: "tok_visa", label: "Visa •••• 4242（テスト）" },
  { token: "tok_jcb", label: "JCB •••• 0000（テスト）" },
  { token: "tok_declined", label: "Visa •••• 0002（テスト・拒否されるカード）" },
  // a prepaid card with 3,000円 left: a larger order waits for another payment method (seed 000's 「お支払い方法の変更が必要です」)
  { token: "tok_prepaid_low", label: "Visa •••• 5556（テスト・残高3,000円のプリペイド）" },
] as const;

export const yen = (n: number) => `${n.toLocaleString("ja-JP")}円`;

// The shop's own record (not Mamori's): the marketplace's listings, what Mamori's webhooks told it, and the notices
// it owes its customers. A small JSON file, written whole after each change, is enough for a demo; a real shop has
// its database here.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface ShopListing {
  id: string;
  sellerAccountId: string;
  title: string;
  price: number;
  quantity: number;
  productId: string | null;
  /** active, held (by the seller), taken_down (by Mamori: a webhook said so) */
  status: string;
}

export interface ShopNotice {
  at: string;
  text: string;
}

interface Data {
  listings: ShopListing[];
  /** per Mamori account: what the shop must tell its customer the next time they come */
  notices: Record<string, ShopNotice[]>;
  /** order ids Mamori cancelled (order.cancelled), as the shop applied them */
  cancelledOrders: string[];
  /** the latest webhook messages, for the demo's own page */
  webhookLog: { at: string; type: string; objectId: string; answer: string }[];
}

export class ShopState {
  private data: Data = { listings: [], notices: {}, cancelledOrders: [], webhookLog: [] };
  constructor(private readonly file?: string) {
    if (!file) return;
    try {
      this.data = { ...this.data, ...(JSON.parse(readFileSync(file, "utf8")) as Partial<Data>) };
    } catch {
      // no file yet: an empty shop
    }
  }

  private save() {
    if (!this.file) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    // write then rename: a crash mid-write leaves the previous record, not half of one
    writeFileSync(`${this.file}.tmp`, JSON.stringify(this.data, null, 2), { mode: 0o600 });
    renameSync(`${this.file}.tmp`, this.file);
  }

  listings(filter?: (l: ShopListing) => boolean): ShopListing[] {
    return filter ? this.data.listings.filter(filter) : [...this.data.listings];
  }
  listing(id: string): ShopListing | undefined {
    return this.data.listings.find((l) => l.id === id);
  }
  putListing(l: ShopListing) {
    this.data.listings = [l, ...this.data.listings.filter((x) => x.id !== l.id)];
    this.save();
  }
  setListingStatus(id: string, status: string) {
    const l = this.listing(id);
    if (!l) return false;
    l.status = status;
    this.save();
    return true;
  }

  notices(accountId: string): ShopNotice[] {
    return this.data.notices[accountId] ?? [];
  }
  addNotice(accountId: string, text: string, at = new Date()) {
    const list = this.data.notices[accountId] ?? [];
    this.data.notices[accountId] = list;
    list.unshift({ at: at.toISOString(), text });
    list.splice(10);
    this.save();
  }
  dismissNotices(accountId: string) {
    delete this.data.notices[accountId];
    this.save();
  }

  markOrderCancelled(orderId: string) {
    if (!this.data.cancelledOrders.includes(orderId)) this.data.cancelledOrders.push(orderId);
    this.save();
  }
  orderCancelledByMamori(orderId: string) {
    return this.data.cancelledOrders.includes(orderId);
  }

  logWebhook(type: string, objectId: string, answer: string, at = new Date()) {
    this.data.webhookLog.unshift({ at: at.toISOString(), type, objectId, answer });
    this.data.webhookLog.splice(50);
    this.save();
  }
  webhookLog() {
    return this.data.webhookLog;
  }
}

import type { FastifyReply, FastifyRequest } from "fastify";
import type { Http } from "../api/types.ts";
import type { RouteDeps } from "../route-deps.ts";
import type { Lang, Msg } from "../web/i18n.ts";
import { type ConsoleKit, CT, type SignedIn, s } from "./kit.tsx";

/**
 * The risk policies as they run (issue 15 item 2), for leads: the active set and the shadow set beside it (version,
 * name, every rule with its events, action, hold and expression) and a backtest preview — the stored decisions of the
 * last days replayed through the shadow set (or any version asked for), against the labels. Read-only: policies
 * change through putPolicySet / promotePolicySet.
 */

const T = {
  title: { ja: "リスクポリシー", en: "Risk policies" },
  intro: {
    ja: "いま適用中のポリシーと、並行して評価だけしているシャドウのポリシーです。この画面からは変更できません（putPolicySet / promotePolicySet）。",
    en: "The policy set that decides now, and the shadow set evaluated beside it without deciding. Read-only here (putPolicySet / promotePolicySet).",
  },
  active: { ja: "適用中", en: "Active" },
  shadow: { ja: "シャドウ", en: "Shadow" },
  noShadow: { ja: "シャドウのポリシーはありません。", en: "No shadow set." },
  version: { ja: "バージョン {v}: {name}", en: "Version {v}: {name}" },
  since: { ja: "適用開始", en: "Active since" },
  rule: { ja: "ルール", en: "Rule" },
  events: { ja: "対象", en: "Events" },
  action: { ja: "判定", en: "Action" },
  when: { ja: "条件", en: "When" },
  hold: { ja: "保留", en: "hold" },
  lockdown: { ja: "ロックダウン", en: "lockdown" },
  backtest: {
    ja: "バックテスト（直近{days}日の判定をバージョン{v}で再評価）",
    en: "Backtest (the last {days} days replayed through version {v})",
  },
  backtestNone: {
    ja: "比べるポリシーがありません。シャドウを設定するか、?version= で指定してください。",
    en: "Nothing to compare: set a shadow set, or name one with ?version=.",
  },
  others: { ja: "すべてのバージョン", en: "Every version" },
  unknownVersion: { ja: "そのバージョンはありません。", en: "No such version." },
} satisfies Record<string, Msg>;

export function registerPolicyPages(
  app: Http,
  deps: RouteDeps,
  ctx: { kit: ConsoleKit; signedIn: SignedIn; refused: (req: FastifyRequest, reply: FastifyReply) => unknown },
) {
  const { kit, signedIn } = ctx;
  const { csrf, risk } = deps;
  const getOpts = { config: { auth: "public" as const }, schema: { hide: true } };

  app.get("/console/policies", getOpts, async (req, reply) => {
    kit.keepLang(req, reply);
    const who = await signedIn(req, reply, { lead: true });
    if (!who) return reply;
    const lang: Lang = kit.langOf(req);
    const sets = await risk.listPolicySets();
    const activeView = sets.find((x) => x.status === "active");
    const shadowView = sets.find((x) => x.status === "shadow");
    const [active, shadow] = await Promise.all([
      activeView ? risk.getPolicySet(activeView.version) : null,
      shadowView ? risk.getPolicySet(shadowView.version) : null,
    ]);
    const raw = (req.query as { version?: unknown }).version;
    const asked = typeof raw === "string" && /^\d{1,6}$/.test(raw) ? Number(raw) : undefined;
    const target = asked ?? shadowView?.version;
    const days = 7;
    const known = target !== undefined && sets.some((x) => x.version === target);
    const preview = known && target !== undefined ? await risk.backtestPreview(target, days) : null;

    const setBlock = (p: NonNullable<typeof active>, key: string) => (
      <section key={key}>
        <h3>{s(lang, T.version, { v: p.version, name: p.name ?? "—" })}</h3>
        {p.activatedAt ? (
          <p>
            {T.since[lang]}: {kit.when(p.activatedAt, lang)}
          </p>
        ) : null}
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">{T.rule[lang]}</th>
                <th scope="col">{T.events[lang]}</th>
                <th scope="col">{T.action[lang]}</th>
                <th scope="col">{T.when[lang]}</th>
              </tr>
            </thead>
            <tbody>
              {p.source.rules.map((r) => (
                <tr key={r.id}>
                  <td>
                    <span class="code">{r.id}</span>
                    {r.description ? <div>{r.description}</div> : null}
                  </td>
                  <td>{r.events.join(", ")}</td>
                  <td>
                    {r.action}
                    {r.hold ? <span class="tag">{T.hold[lang]}</span> : null}
                    {r.lockdown ? <span class="tag danger">{T.lockdown[lang]}</span> : null}
                  </td>
                  <td class="code">{r.when}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    );

    return kit.page(req, reply, {
      status: asked !== undefined && !known ? 404 : 200,
      lang,
      title: T.title[lang],
      staff: who,
      csrf: csrf.issue(req, reply),
      langSwitch: true,
      wide: true,
      children: [
        <p key="i">{T.intro[lang]}</p>,
        <h2 key="ha">{T.active[lang]}</h2>,
        active ? setBlock(active, "a") : <p key="an">—</p>,
        <h2 key="hs">{T.shadow[lang]}</h2>,
        shadow ? setBlock(shadow, "s") : <p key="sn">{T.noShadow[lang]}</p>,
        <h2 key="hb">
          {target !== undefined ? s(lang, T.backtest, { days, v: target }) : s(lang, T.backtest, { days, v: "—" })}
        </h2>,
        asked !== undefined && !known ? (
          <p key="bu">{T.unknownVersion[lang]}</p>
        ) : preview ? (
          <pre key="b" class="code">
            {preview.text}
          </pre>
        ) : (
          <p key="bn">{T.backtestNone[lang]}</p>
        ),
        <h2 key="ho">{T.others[lang]}</h2>,
        <ul key="o">
          {sets.map((x) => (
            <li key={x.version}>
              <a href={`policies?version=${x.version}`}>{s(lang, T.version, { v: x.version, name: x.name ?? "—" })}</a>{" "}
              ({x.status}, {x.rules})
            </li>
          ))}
        </ul>,
        <p key="back">
          <a href={kit.rootOf(req)}>{CT.back[lang]}</a>
        </p>,
      ],
    });
  });
}

// The risk commands' help, apart from their code: `mamori --help` imports only this, not the models.
export const RISK_HELP = `  mamori gen logins [--users N] [--days D] [--seed S] [--attacked SHARE] [--stuffing-attempts N]
                    [--out file.csv] [--labels labels.csv]
                                    write synthetic logins in the RBA data set's CSV layout (stdout without --out);
                                    --labels: each row's attacker kind (stuffing, naive, vpn, targeted)
  mamori backtest --csv FILE [--labels labels.csv] [--out scores.csv] [--fpr 0.001,0.01,0.05,0.1] [--oracle-history]
                                    replay a login CSV through the live login models (takeover model and Freeman);
                                    print takeovers caught at the shipped threshold and at fixed FPRs, per attacker
                                    kind with --labels. --oracle-history reads the takeover label to keep takeovers
                                    out of the history (off by default: no deployment knows the label)
  mamori fit logins --csv FILE [--max-legit-rate 0.02] [--without-device-ids]
                                    fit the takeover model's weights and threshold on a labelled CSV; print them
                                    (threshold: lowest with ≤ that share of legitimate sign-ins challenged and the
                                    median user's share ≤ 0.5 %); --without-device-ids ignores the Device ID column
                                    (the model for accounts that send none)
  mamori backtest --policy FILE.json [--since ISO] [--until ISO] [--out decisions.csv]
                                    replay the stored decisions through a candidate policy set (fresh counters);
                                    print the confusion table against cases and "not me" reports`;

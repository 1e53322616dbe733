// The password rules as you type (hosted recovery): marks the length rule met or not and says how many characters
// there are, in the page's own words (data-* attributes rendered by the server). Counts code points, as the server's
// checkPasswordLength does. Only a help: the server checks every rule again, and the form works without this file.
for (const input of document.querySelectorAll("input[data-rules]")) {
  const rules = document.getElementById(input.dataset.rules);
  const live = document.getElementById(input.dataset.live);
  if (!rules || !live) continue;
  const min = Number(input.dataset.min);
  const max = Number(input.dataset.max);
  const lengthRule = rules.querySelector('[data-rule="length"]');
  live.hidden = false;
  const update = () => {
    const n = [...input.value].length;
    const ok = n >= min && n <= max;
    if (lengthRule) lengthRule.classList.toggle("met", ok);
    const text = n === 0 ? live.dataset.empty : ok ? live.dataset.ok : n < min ? live.dataset.short : live.dataset.long;
    live.textContent = (text ?? "").replace("{n}", String(n)).replace("{more}", String(Math.max(0, min - n)));
  };
  input.addEventListener("input", update);
  update();
}

/* Progressive enhancement for the public forms. Every form works without it.
   - procedure picker: search the catalogue as you type (GET /procedures/search)
   - a character counter under the content field
   - a second click on a submit button does not send the form again
   - a copy button for the private link on the receipt
   Texts come from data-* attributes rendered by the (translated) templates. */
(function () {
  "use strict";

  function procedurePicker(box) {
    var select = box.querySelector("select");
    if (!select || !window.fetch) { return; }
    var original = Array.prototype.map.call(select.children, function (node) { return node.cloneNode(true); });
    var label = document.createElement("label");
    var input = document.createElement("input");
    var status = document.createElement("p");
    input.type = "search";
    input.id = select.id + "-search";
    input.placeholder = box.dataset.searchPlaceholder || "";
    input.setAttribute("autocomplete", "off");
    input.setAttribute("aria-controls", select.id);
    label.htmlFor = input.id;
    label.textContent = box.dataset.searchLabel || "";
    label.className = "sub-label";
    status.className = "help";
    status.setAttribute("aria-live", "polite");
    select.parentNode.insertBefore(label, select);
    select.parentNode.insertBefore(input, select);
    select.parentNode.insertBefore(status, select);

    function restore() {
      var chosen = select.value;
      select.replaceChildren.apply(select, original.map(function (node) { return node.cloneNode(true); }));
      select.value = chosen;
      status.textContent = "";
    }

    function show(results) {
      var chosen = select.options[select.selectedIndex];
      var keep = [select.options[0].cloneNode(true)];
      if (chosen && chosen.value) { keep.push(chosen.cloneNode(true)); }
      results.forEach(function (item) {
        if (chosen && String(item.id) === chosen.value) { return; }
        var option = document.createElement("option");
        option.value = item.id;
        option.textContent = item.title + (item.category ? " (" + item.category + ")" : "");
        keep.push(option);
      });
      select.replaceChildren.apply(select, keep);
      if (chosen) { select.value = chosen.value; }
      status.textContent = results.length ? "" : (box.dataset.noResults || "");
    }

    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var q = input.value.trim();
        if (!q) { restore(); return; }
        var category = document.getElementById("category_id");
        var url = box.dataset.searchUrl + "?q=" + encodeURIComponent(q) +
          (category && category.value ? "&category=" + encodeURIComponent(category.value) : "");
        fetch(url, { headers: { "Accept": "application/json" } })
          .then(function (response) { return response.ok ? response.json() : { results: [] }; })
          .then(function (data) { show(data.results || []); })
          .catch(function () { restore(); });
      }, 250);
    });
  }

  function counter(box) {
    var area = box.querySelector("textarea");
    if (!area) { return; }
    var out = document.createElement("p");
    out.className = "help counter";
    out.setAttribute("aria-live", "polite");
    area.parentNode.insertBefore(out, area.nextSibling);
    function update() {
      out.textContent = (box.dataset.counter || "{n}").replace("{n}", area.value.length.toLocaleString("vi-VN"));
    }
    area.addEventListener("input", update);
    update();
  }

  function submitOnce(form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sending) { event.preventDefault(); return; }
      form.dataset.sending = "1";
      form.setAttribute("aria-busy", "true");
      // Allow a new try if the page is kept (e.g. the user presses Back).
      window.addEventListener("pageshow", function () { delete form.dataset.sending; }, { once: true });
    });
  }

  function copyButton(button) {
    var target = document.querySelector(button.dataset.copy);
    if (!target || !navigator.clipboard) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(target.href || target.textContent).then(function () {
        button.textContent = button.dataset.copied || button.textContent;
      });
    });
  }

  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); }  // screen readers hear what to fix first
  document.querySelectorAll(".procedure-picker[data-search-url]").forEach(procedurePicker);
  document.querySelectorAll(".counted").forEach(counter);
  document.querySelectorAll("form[data-once]").forEach(submitOnce);
  document.querySelectorAll("button[data-copy]").forEach(copyButton);
}());

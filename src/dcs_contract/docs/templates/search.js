// The search box: filters the page's table rows and consumers by their text, in the page
// itself (no index, no request), so that it works from a file:// page offline.
(function () {
  var box = document.getElementById("search");
  var count = document.getElementById("search-count");
  if (!box) { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll("main tr"));
  var blocks = Array.prototype.slice.call(document.querySelectorAll("main details.consumer"));
  function filter() {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    function matches(element) {
      var text = element.textContent.toLowerCase();
      return words.every(function (word) { return text.indexOf(word) !== -1; });
    }
    rows.forEach(function (row) {
      if (row.querySelector("th")) { return; }
      var hit = !words.length || matches(row);
      row.hidden = !hit;
      if (hit && words.length) { shown += 1; }
    });
    blocks.forEach(function (block) {
      var hit = !words.length || matches(block);
      block.hidden = !hit;
      block.open = hit && words.length > 0;
    });
    count.textContent = words.length ? shown + (shown === 1 ? " row" : " rows") + " match" : "";
  }
  box.addEventListener("input", filter);
})();

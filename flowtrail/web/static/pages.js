/* Small helpers for the record pages: copy a path to the clipboard. */
document.querySelectorAll("[data-copy]").forEach(function (button) {
  button.addEventListener("click", function () {
    var text = document.getElementById(button.getAttribute("data-copy")).textContent;
    if (navigator.clipboard) navigator.clipboard.writeText(text).then(function () { button.textContent = "copied"; });
  });
});

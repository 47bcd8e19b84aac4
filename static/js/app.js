// Tradecrew page behaviour shared by every page: confirmation dialogs for dangerous actions.
(function () {
  "use strict";

  // <form data-confirm="Close all positions?"> asks before submitting; htmx requests use hx-confirm.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !form.dataset.confirmed && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);
})();

// The chat page: posts each message to the suite's proxy of Rasa's REST channel and shows
// the bot's replies (text and buttons). The sender id is random per browser tab session.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("form");
  const input = document.getElementById("text");
  let sender = sessionStorage.getItem("nlpsuite-chat-sender");
  if (!sender) {
    sender = "web-" + Math.random().toString(36).slice(2, 12);
    sessionStorage.setItem("nlpsuite-chat-sender", sender);
  }

  function add(text, cls) {
    const div = document.createElement("div");
    div.className = "msg " + cls;
    div.textContent = text;
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  async function send(message, shown) {
    add(shown || message, "user");
    try {
      const response = await fetch("webhook", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender: sender, message: message }),
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        add((body && body.error) || "Sorry, something went wrong (HTTP " + response.status + ").", "bot error");
        return;
      }
      for (const reply of body || []) {
        if (reply.text) {
          const div = add(reply.text, "bot");
          if (reply.buttons && reply.buttons.length) {
            const row = document.createElement("div");
            row.className = "buttons";
            for (const b of reply.buttons) {
              const button = document.createElement("button");
              button.type = "button";
              button.textContent = b.title;
              button.onclick = () => send(b.payload, b.title);
              row.appendChild(button);
            }
            div.appendChild(row);
          }
        }
      }
    } catch (err) {
      add("The assistant cannot be reached right now. Please try again in a moment.", "bot error");
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const message = input.value;
    input.value = "";
    send(message);
  });
})();

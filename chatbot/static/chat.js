// The chat page: posts each message to the suite's proxy of Rasa's REST channel and shows
// the bot's replies (text and buttons). The sender id is issued (and signed) by the server,
// once per browser tab session: no page can speak in another person's conversation.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("form");
  const input = document.getElementById("text");
  let sender = sessionStorage.getItem("nlpsuite-chat-sender");

  async function conversation() {
    if (!sender) {
      const response = await fetch("session", { method: "POST", headers: { "Content-Type": "application/json" },
                                                body: "{}" });
      if (!response.ok) throw new Error("no session (HTTP " + response.status + ")");
      sender = (await response.json()).sender;
      sessionStorage.setItem("nlpsuite-chat-sender", sender);
    }
    return sender;
  }

  function add(text, cls) {
    const div = document.createElement("div");
    div.className = "msg " + cls;
    div.textContent = text;
    log.appendChild(div);
    log.scrollTop = log.scrollHeight;
    return div;
  }

  async function post(message) {
    return fetch("webhook", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: await conversation(), message: message }),
    });
  }

  async function send(message, shown) {
    add(shown || message, "user");
    try {
      let response = await post(message);
      if (response.status === 403) {  // an id from before a new API token: start a new conversation
        sender = null;
        sessionStorage.removeItem("nlpsuite-chat-sender");
        response = await post(message);
      }
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

  const signin = document.getElementById("signin");
  signin.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = document.getElementById("signin-status");
    const response = await fetch("signin", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: await conversation(), customer: document.getElementById("customer").value,
                             password: document.getElementById("password").value }),
    });
    const body = await response.json().catch(() => ({}));
    status.textContent = response.ok ? "Signed in as " + body.name + " (" + body.customer + ") for this chat."
                                     : (body.detail || "Sign-in failed.");
    status.className = response.ok ? "" : "error";
    document.getElementById("password").value = "";
  });
})();

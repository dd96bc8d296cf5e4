// The operator's teach page: posts JSON to the API (the sign-in cookie authenticates it).
const status = document.getElementById("status");

async function call(method, path, body) {
  const response = await fetch(path, { method, headers: { "Content-Type": "application/json" },
                                       body: body ? JSON.stringify(body) : undefined });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = Array.isArray(data.detail)  // FastAPI's validation errors: one per field
      ? data.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ") : data.detail;
    throw new Error(detail || `HTTP ${response.status}`);
  }
  return data;
}

document.getElementById("teach").addEventListener("submit", async (event) => {
  event.preventDefault();
  status.textContent = "Teaching... (a few seconds)";
  try {
    const result = await call("POST", "api/teach", {
      intent: document.getElementById("intent").value.trim(),
      examples: document.getElementById("examples").value.split("\n").map((s) => s.trim()).filter(Boolean),
      answer: document.getElementById("answer").value,
    });
    status.textContent = `Taught ${result.intent} from ${result.examples} examples in ${result.seconds} s ` +
                         `(version ${result.version}). The bot answers it within seconds.`;
    setTimeout(() => location.reload(), 1500);
  } catch (error) {
    status.textContent = `Not taught: ${error.message}`;
  }
});

for (const button of document.querySelectorAll("button.remove")) {
  button.addEventListener("click", async () => {
    const intent = button.dataset.intent;
    status.textContent = `Removing ${intent}...`;
    try {
      await call("DELETE", `api/teach/${encodeURIComponent(intent)}`);
      location.reload();
    } catch (error) {
      status.textContent = `Not removed: ${error.message}`;
    }
  });
}

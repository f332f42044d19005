// The quiv dashboard's script: keeps the page live, with no framework and no build step.
//
// The server renders every part of the page (escaped there); this script only
// - listens to the stream (api/stream, Server-Sent Events): a lifecycle event reloads the
//   parts (fragments, one request, debounced), a progress report moves its job's bar;
// - sends the actions (pause, resume, run, remove, cancel) as JSON with the header
//   X-Quiv-Action: 1, then reloads the parts;
// - pages and filters the history.
// Text from the server is set with textContent; HTML only ever comes from the fragments.
"use strict";

(() => {
  const ACTION_HEADER = "X-Quiv-Action";
  const ENDED = new Set([
    "job_completed", "job_failed", "job_cancelled", "job_timed_out", "job_retrying",
    "job_missed",
  ]);
  const REFRESH_EVERY_MS = 10000;

  const live = document.getElementById("live");
  const notice = document.getElementById("notice");
  // The latest report of each job ("task:<id>" for a report of a task, not of a job).
  const reports = new Map();
  const history = { task_id: "", status: "", cursor: "" };
  let timer = null;
  let loading = false;
  let again = false;

  function say(text, failed) {
    notice.textContent = text;
    notice.classList.toggle("error", Boolean(failed));
  }

  function setLive(text, on) {
    live.textContent = text;
    live.classList.toggle("on", on);
  }

  function schedule(delay) {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      reload();
    }, delay === undefined ? 300 : delay);
  }

  async function reload() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      const params = new URLSearchParams({ history: "true" });
      for (const [name, value] of Object.entries(history)) {
        if (value) params.set(name, value);
      }
      const response = await fetch("fragments?" + params.toString(), { cache: "no-store" });
      if (!response.ok) {
        say("the dashboard could not be refreshed (" + response.status + ")", true);
        return;
      }
      const parts = await response.json();
      for (const [name, html] of Object.entries(parts)) {
        const target = document.querySelector('[data-fragment="' + name + '"]');
        // A filter the user holds open is not swapped from under them.
        const active = document.activeElement;
        if (!target || (active && active.tagName === "SELECT" && target.contains(active))) {
          continue;
        }
        target.innerHTML = html;
      }
      for (const report of reports.values()) show(report);
    } catch (error) {
      say("the scheduler cannot be reached: " + error.message, true);
    } finally {
      loading = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }

  function show(report) {
    const selector = report.job_id
      ? 'progress[data-job-id="' + CSS.escape(report.job_id) + '"]'
      : 'progress[data-task-id="' + CSS.escape(report.task_id) + '"]';
    for (const bar of document.querySelectorAll(selector)) {
      if (report.fraction === null) {
        bar.removeAttribute("value");
      } else {
        bar.value = report.fraction;
      }
      const percent = report.fraction === null ? "" : Math.round(report.fraction * 100) + "% ";
      bar.title = report.label;
      const label = bar.parentElement.querySelector(".progress-label");
      if (label) label.textContent = percent + report.label;
    }
  }

  function connect() {
    const stream = new EventSource("api/stream");
    stream.addEventListener("open", () => setLive("live", true));
    stream.addEventListener("error", () => setLive("reconnecting…", false));
    stream.addEventListener("lifecycle", (event) => {
      const data = JSON.parse(event.data);
      if (data.job && ENDED.has(data.event)) {
        reports.delete(data.job.id);
        reports.delete("task:" + data.task.id);
      }
      schedule();
    });
    stream.addEventListener("progress", (event) => {
      const report = JSON.parse(event.data);
      reports.set(report.job_id || "task:" + report.task_id, report);
      show(report);
    });
    stream.addEventListener("dropped", (event) => {
      const count = JSON.parse(event.data).count;
      say(count + " live messages were dropped: this page fell behind", true);
      schedule();
    });
    stream.addEventListener("shutdown", () => {
      stream.close();
      setLive("scheduler stopped", false);
      schedule(0);
    });
  }

  const ACTIONS = {
    pause: (id) => ["POST", "api/tasks/" + encodeURIComponent(id) + "/pause", {}],
    resume: (id) => ["POST", "api/tasks/" + encodeURIComponent(id) + "/resume", { delay: 0 }],
    run: (id) => ["POST", "api/tasks/" + encodeURIComponent(id) + "/run", {}],
    remove: (id) => ["DELETE", "api/tasks/" + encodeURIComponent(id), {}],
    cancel: (id) => ["POST", "api/jobs/" + encodeURIComponent(id) + "/cancel", {}],
  };

  async function act(button) {
    const action = button.dataset.action;
    const make = ACTIONS[action];
    if (!make) return;
    if (action === "remove" && button.dataset.confirm !== "yes") {
      button.dataset.confirm = "yes";
      button.textContent = "Confirm remove";
      return;
    }
    const [method, url, body] = make(button.dataset.id);
    button.disabled = true;
    try {
      const response = await fetch(url, {
        method,
        headers: { "Content-Type": "application/json", [ACTION_HEADER]: "1" },
        body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) {
        say(action + ": done", false);
      } else {
        say(action + " failed: " + (answer.detail || response.status), true);
      }
    } catch (error) {
      say(action + " failed: " + error.message, true);
    } finally {
      button.disabled = false;
      reload();
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) {
      act(button);
      return;
    }
    const pager = event.target.closest("button[data-page]");
    if (pager) {
      history.cursor = pager.dataset.page;
      reload();
    }
  });

  document.addEventListener("change", (event) => {
    const form = event.target.closest("form[data-filter]");
    if (!form) return;
    history.task_id = form.elements.task_id.value;
    history.status = form.elements.status.value;
    history.cursor = "";
    event.target.blur();
    reload();
  });

  connect();
  setInterval(() => schedule(), REFRESH_EVERY_MS);
})();

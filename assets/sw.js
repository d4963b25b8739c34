/* The oncall service worker: turns pushed pages into notifications and answers their buttons.
 *
 * Served at /sw.js so that its scope is the whole site. A push carries the JSON of
 * oncall.notify.message.render_push: title, body, url, tag, renotify, requireInteraction,
 * actions, and data (incident_id, number, status, ack_url). "Acknowledge" posts the signed
 * one-click link (POST /ack/{token}); any other click opens the incident.
 */
"use strict";

const ICON = "/icons/icon-192.png";
const VERIFICATION_TAG = "oncall-verification_code";
const CODE_MESSAGE = "oncall-verification-code";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function readPush(event) {
  if (!event.data) return { title: "oncall", body: "" };
  try {
    return event.data.json();
  } catch (error) {
    return { title: "oncall", body: event.data.text() };
  }
}

/* A verification code also goes to the open pages, which confirm it without typing. */
async function tellPages(body) {
  const found = /\b(\d{6})\b/.exec(body || "");
  if (!found) return;
  const pages = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const page of pages) page.postMessage({ type: CODE_MESSAGE, code: found[1] });
}

self.addEventListener("push", (event) => {
  const message = readPush(event);
  const data = Object.assign({}, message.data || {}, { url: message.url || "/" });
  const options = {
    body: message.body || "",
    icon: ICON,
    badge: ICON,
    data: data,
    requireInteraction: Boolean(message.requireInteraction),
    actions: data.ack_url ? message.actions || [] : [],
  };
  if (message.tag) {
    options.tag = message.tag;
    options.renotify = Boolean(message.renotify);
  }
  const work = [self.registration.showNotification(message.title || "oncall", options)];
  if (message.tag === VERIFICATION_TAG) work.push(tellPages(message.body));
  event.waitUntil(Promise.all(work));
});

function sameSite(url) {
  try {
    const target = new URL(url, self.location.origin);
    return target.protocol === "https:" || target.protocol === "http:" ? target : null;
  } catch (error) {
    return null;
  }
}

/* Focus a tab showing `url`, else bring an open tab of the app to it, else open a window. */
async function openPage(url) {
  const target = sameSite(url) || new URL("/", self.location.origin);
  const tabs = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const tab of tabs) {
    if (tab.url === target.href && "focus" in tab) return tab.focus();
  }
  for (const tab of tabs) {
    if (new URL(tab.url).origin === self.location.origin && "navigate" in tab) {
      try {
        const moved = await tab.navigate(target.href);
        if (moved) return moved.focus();
      } catch (error) {
        /* a tab this worker does not control cannot be navigated: open a window instead */
      }
    }
  }
  return self.clients.openWindow(target.href);
}

async function acknowledge(data) {
  let answer = null;
  try {
    answer = await fetch(data.ack_url, { method: "POST", credentials: "omit" });
  } catch (error) {
    answer = null;
  }
  if (answer && answer.ok) {
    return self.registration.showNotification(`#${data.number} acknowledged`, {
      body: "Escalation has stopped.",
      icon: ICON,
      badge: ICON,
      tag: data.incident_id ? `incident-${data.incident_id}` : undefined,
      data: { url: data.url },
    });
  }
  /* expired, used, refused or offline: the incident page says what happened */
  return openPage(data.url);
}

self.addEventListener("notificationclick", (event) => {
  const note = event.notification;
  const data = note.data || {};
  note.close();
  if (event.action === "acknowledge" && data.ack_url) {
    event.waitUntil(acknowledge(data));
  } else {
    event.waitUntil(openPage(data.url || "/"));
  }
});

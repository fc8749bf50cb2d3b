// The example's single-page app: plain JavaScript, no build step, no library.
//
// The emailed link (JWT_EMAIL_LINK_URL) opens this page with the login token in the
// fragment (#token=...), which browsers never send to a server. The page redeems it
// only when the person presses "Sign in": a mail scanner that runs the page's
// script must not spend the link. auth/token/ answers with the access token, kept
// in this script's memory only, and sets the refresh token as an HttpOnly cookie
// (transport "cookie") that no script can read. When the access token expires, one
// POST to auth/token/refresh/ carries that cookie with Django's CSRF token and
// brings a new access token; a reload does the same, so the person stays signed in.
"use strict";

(function () {
  const root = document.getElementById("spa");
  const text = root.dataset; // the translated strings of the template
  const urls = JSON.parse(document.getElementById("spa-urls").textContent);
  // Not a secret: only "a session may live until", so that a signed-out visitor's
  // page load asks nothing of the server.
  const HINT = "jwt_email_spa_session_until";

  let access = null;
  let accessUntil = 0;
  let refreshes = 0;
  let refreshing = null;

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  async function post(url, body, headers) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), ...headers },
      body: JSON.stringify(body || {}),
    });
    const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, data: data };
  }

  function show(section, message) {
    for (const id of ["ask", "link", "signed-in"]) {
      document.getElementById(id).hidden = id !== section;
    }
    say(message || "");
  }

  function say(message) {
    document.getElementById("status").textContent = message;
  }

  function keep(pair) {
    access = pair.access;
    // A second early: a token is never sent in its last moment.
    accessUntil = Date.now() + (pair.expires_in - 1) * 1000;
    root.dataset.accessUntil = String(accessUntil);
    localStorage.setItem(HINT, String(Date.now() + pair.refresh_expires_in * 1000));
  }

  function forget() {
    access = null;
    accessUntil = 0;
    localStorage.removeItem(HINT);
  }

  // One refresh at a time: two at once would present the same cookie twice, which
  // the server takes for a stolen token (reuse) and answers by ending the session.
  function refresh() {
    if (!refreshing) {
      refreshing = post(urls.refresh, {}).then(function (answer) {
        refreshing = null;
        if (!answer.ok) {
          forget();
          return false;
        }
        refreshes += 1;
        document.getElementById("refresh-count").textContent = String(refreshes);
        keep(answer.data);
        return true;
      });
    }
    return refreshing;
  }

  async function freshAccess() {
    if (access && Date.now() < accessUntil) return access;
    return (await refresh()) ? access : null;
  }

  async function api(url) {
    if (!(await freshAccess())) return null;
    const call = () => fetch(url, { headers: { Authorization: "Bearer " + access } });
    let response = await call();
    if (response.status === 401 && (await refresh())) response = await call();
    return response.ok ? response.json() : null;
  }

  async function whoAmI() {
    const me = await api(urls.me);
    if (!me) {
      show("ask", text.expired);
      return;
    }
    document.getElementById("me-email").textContent = me.email;
    show("signed-in");
  }

  document.getElementById("ask-form").addEventListener("submit", async function (event) {
    event.preventDefault();
    const answer = await post(urls.request, { email: event.target.email.value });
    say(answer.ok ? text.sent : answer.data.detail || text.failed);
  });

  const token = new URLSearchParams(location.hash.slice(1)).get("token");

  document.getElementById("sign-in").addEventListener("click", async function () {
    say(text.signingIn);
    const answer = await post(urls.token, { token: token, transport: "cookie" });
    // Spent or refused, the token has nothing more to do in the address bar.
    history.replaceState(null, "", location.pathname);
    if (!answer.ok) {
      show("ask", answer.data.detail || text.failed);
      return;
    }
    keep(answer.data);
    await whoAmI();
  });

  document.getElementById("who-am-i").addEventListener("click", whoAmI);

  document.getElementById("sign-out").addEventListener("click", async function () {
    // auth/logout/ ends the session of the Bearer token and clears the cookie.
    if (await freshAccess()) {
      await post(urls.logout, {}, { Authorization: "Bearer " + access });
    }
    forget();
    show("ask", text.signedOut);
  });

  if (token) {
    show("link"); // never redeemed on load: only the button does
  } else if (Number(localStorage.getItem(HINT)) > Date.now()) {
    refresh().then((ok) => (ok ? whoAmI() : show("ask", text.expired)));
  } else {
    show("ask");
  }
})();

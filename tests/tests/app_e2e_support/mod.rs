//! The machinery of the window tests: a virtual display, the bank's server, tauri-driver and a
//! WebDriver session on the app, each stopped when dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use softtoken_tests::skip;
use tokio::sync::{Mutex, MutexGuard};

mod bank;
mod gate;
pub use bank::Bank;
pub use gate::Gate;

/// Longest wait for anything on screen; generous because debug builds on two cores are slow.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Phone and desktop window sizes of the screenshots.
pub const PHONE: (u32, u32) = (360, 740);
pub const DESKTOP: (u32, u32) = (1024, 720);

/// Serialises the window tests (one display, ports, two cores) and decides whether to run.
/// `None` means skipped (said so).
pub async fn e2e_guard() -> Option<MutexGuard<'static, ()>> {
    if !skip::required("SOFTTOKEN_E2E") {
        skip::missing(
            None,
            "needs the app window; run scripts/test.sh, or SOFTTOKEN_E2E=1 \
             scripts/with-secret-service.sh cargo test -p softtoken-tests --test app_e2e \
             after scripts/app-deps.sh",
        );
        return None;
    }
    // An async mutex: each test has its own runtime, and the guard lives across its awaits.
    static SERIAL: Mutex<()> = Mutex::const_new(());
    Some(SERIAL.lock().await)
}

/// Progress on stderr, so a hung step shows where it hung.
pub fn step(what: &str) {
    eprintln!("[e2e {:>7.1}s] {what}", START.get_or_init(Instant::now).elapsed().as_secs_f32());
}

static START: OnceLock<Instant> = OnceLock::new();

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The app and server binaries, built once per test run (a no-op when up to date).
///
/// The build asks for what `cargo test --workspace` builds besides the tests (every bin and
/// example, which turn on the dev-dependencies' features as tests do), so both resolve the same
/// features: in the test command this build finds everything compiled already. Building only
/// the app and the server would resolve fewer features and compile some 120 crates again
/// (tauri, wry, rustls, syn and all that depends on them).
pub struct Binaries {
    pub app: PathBuf,
    pub server: PathBuf,
}

pub fn binaries() -> &'static Binaries {
    static BINS: OnceLock<Binaries> = OnceLock::new();
    BINS.get_or_init(|| {
        step("building the app and the server");
        cargo_build(&[]);
        let dir = target_dir().join("debug");
        let bins = Binaries { app: dir.join("softtoken"), server: dir.join("softtoken-server") };
        assert!(bins.app.exists(), "{} missing", bins.app.display());
        assert!(bins.server.exists(), "{} missing", bins.server.display());
        bins
    })
}

/// `cargo build --workspace --bins --examples` with `extra` arguments (see [`Binaries`]).
fn cargo_build(extra: &[&str]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--workspace", "--bins", "--examples"])
        .args(extra)
        .current_dir(workspace_root())
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build {extra:?} failed");
}

/// The app as QA installs it (`--features qa`), kept beside the customer build as
/// `softtoken-qa`. Built once per run: the same workspace build plus the feature, so only the
/// app crate compiles again; then the customer build is linked back into its place (cargo
/// re-links a fresh artifact without compiling), which is checked.
pub fn qa_app() -> &'static Path {
    static QA: OnceLock<PathBuf> = OnceLock::new();
    QA.get_or_init(|| {
        let customer = &binaries().app;
        step("building the QA flavour of the app");
        cargo_build(&["--features", "softtoken-app/qa"]);
        let qa = customer.with_file_name("softtoken-qa");
        std::fs::copy(customer, &qa).unwrap();
        cargo_build(&[]);
        assert_ne!(
            std::fs::read(customer).unwrap(),
            std::fs::read(&qa).unwrap(),
            "the customer build was not put back after the QA build"
        );
        qa
    })
}

fn tool(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|p| p.is_file()));
    if let Some(Some(p)) = on_path {
        return p;
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cargo"));
    let p = cargo_home.join("bin").join(name);
    assert!(p.is_file(), "{name} is missing: run scripts/app-deps.sh");
    p
}

/// Bounds a WebDriver call: a hung window must fail the test, not hang it.
pub async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not answer within {STEP_TIMEOUT:?}"),
    }
}

/// A command that ends by itself after `LIFETIME` even if the test process is killed before
/// it can stop it (coreutils `timeout`), so no display, driver or server outlives a run.
fn bounded_command(program: &Path) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["--signal=TERM", "900"]).arg(program);
    cmd
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, child: &mut Child, what: &str) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not listen on 127.0.0.1:{port} within {STEP_TIMEOUT:?}");
}

/// Asks a child to stop with SIGTERM (so tauri-driver stops WebKitWebDriver and the app too),
/// then waits for it, killing it only if it ignores the request.
pub fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A private X display.
pub struct Xvfb {
    child: Child,
    pub display: String,
}

impl Xvfb {
    pub fn start() -> Self {
        let xvfb = tool("Xvfb");
        for n in 140..400 {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists()
                || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            {
                continue;
            }
            let mut child = bounded_command(&xvfb)
                .args([&format!(":{n}"), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                    return Self { child, display: format!(":{n}") };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            terminate(&mut child);
        }
        panic!("no free X display for Xvfb");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Everything one test needs: a display, the bank, and a data directory for the app.
pub struct World {
    pub bank: Bank,
    pub xvfb: Xvfb,
    pub data: tempfile::TempDir,
}

impl World {
    pub async fn start() -> Self {
        assert!(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some(),
            "no D-Bus session: run inside scripts/with-secret-service.sh"
        );
        let bins = binaries();
        let bank = Bank::start(&bins.server);
        let xvfb = Xvfb::start();
        let data = tempfile::tempdir().unwrap();
        Self { bank, xvfb, data }
    }

    /// The app in `env`'s language at phone size, the demo token set up (steps 7–10) and its
    /// list on screen.
    pub async fn launch_with_demo_token(&self, env: &[(&str, &str)]) -> App {
        let app = self.launch(env, &[]).await;
        app.phone_size().await;
        app.wait_ready().await;
        app.activate_demo(self).await;
        app.wait_visible("screen-otp").await;
        app.click("otp-back").await;
        app.wait_visible("screen-list").await;
        app
    }

    /// Starts tauri-driver and opens a session, which starts the app with `env` and `args`.
    pub async fn launch(&self, env: &[(&str, &str)], args: &[&str]) -> App {
        self.launch_app(&binaries().app, env, args).await
    }

    /// [`World::launch`] with another build of the app (the QA flavour).
    pub async fn launch_app(&self, app: &Path, env: &[(&str, &str)], args: &[&str]) -> App {
        let port = free_port();
        let native = free_port();
        let mut cmd = bounded_command(&tool("tauri-driver"));
        cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .env("DISPLAY", &self.xvfb.display)
            .env("SOFTTOKEN_SERVER_URL", &self.bank.url)
            .env("SOFTTOKEN_DATA_DIR", self.data.path().join("tokens"))
            // WebKit's own storage (the saved language choice) goes here too, not into the
            // tester's home.
            .env("XDG_DATA_HOME", self.data.path().join("xdg-data"))
            .env("XDG_CONFIG_HOME", self.data.path().join("xdg-config"))
            .env("XDG_CACHE_HOME", self.data.path().join("xdg-cache"))
            // The app turns WebKit's compositing off; WebKitWebDriver's screenshots need it on.
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        step("starting tauri-driver");
        let mut driver = cmd.spawn().unwrap();
        wait_for_port(port, &mut driver, "tauri-driver");
        // tauri-driver spawns WebKitWebDriver and starts listening without waiting for it; a
        // session request that arrives first is dropped ("webdriver server did not respond"),
        // which a busy machine makes likely. Both must listen before the session is asked for.
        wait_for_port(native, &mut driver, "WebKitWebDriver (started by tauri-driver)");
        let caps = json!({
            "browserName": "wry",
            "tauri:options": { "application": app, "args": args },
        });
        step("opening a WebDriver session (starts the app)");
        let client = session(port, caps, &mut driver, "the app").await;
        let lock = self.data.path().join("tokens").join(softtoken_app::ops::INSTANCE_LOCK_FILE);
        App { client: Some(client), driver, _profile: None, lock: Some(lock) }
    }

    /// Step 7 with the demo registration, through the screens, up to the code.
    pub fn demo_ids(&self) -> (&'static str, &'static str) {
        ("10112231", "999800000001")
    }
}

/// A WebDriver session with `caps` on the driver listening on `port`; stops the driver and
/// fails when there is none.
async fn session(port: u16, caps: Value, driver: &mut Child, what: &str) -> Client {
    let Value::Object(caps) = caps else { panic!("capabilities must be an object") };
    // fantoccini's rustls has both ring (ours) and aws-lc-rs (hyper-rustls's default)
    // compiled in, so it cannot pick one by itself.
    softtoken_core::client::install_tls_provider();
    let client = ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await;
    match client {
        Ok(c) => c,
        Err(e) => {
            terminate(driver);
            panic!("no WebDriver session on {what}: {e}");
        }
    }
}

/// The demo bank's web pages (served by the reference server in demo mode) in Debian's
/// Chromium, headless, under chromedriver: what a visitor at a kiosk or a QA tester opens
/// beside the app. `lang` is the browser's language (its Accept-Language); `query` is added to
/// the pages' address (`?kiosk=10`).
pub async fn open_bank_pages(bank: &Bank, lang: &str, query: &str) -> App {
    let port = free_port();
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = bounded_command(&tool("chromedriver"));
    cmd.arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null());
    step("starting chromedriver");
    let mut driver = cmd.spawn().unwrap();
    wait_for_port(port, &mut driver, "chromedriver");
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": tool("chromium"),
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-extensions", "--disable-background-networking",
                format!("--lang={lang}"), format!("--accept-lang={lang}"),
                format!("--user-data-dir={}", profile.path().display()),
            ],
            "prefs": { "intl.accept_languages": lang },
        },
    });
    step("opening a WebDriver session on Chromium");
    let client = session(port, caps, &mut driver, "Chromium").await;
    bounded("goto", client.goto(&format!("{}/demo/{query}", bank.url))).await.unwrap();
    let pages = App { client: Some(client), driver, _profile: Some(profile), lock: None };
    pages.phone_size().await;
    pages.wait_ready().await;
    pages
}

/// A running app (or the bank's pages in a browser) under WebDriver.
pub struct App {
    client: Option<Client>,
    driver: Child,
    /// The browser's profile, for the bank pages.
    _profile: Option<tempfile::TempDir>,
    /// The data directory's lock file, which the app holds while it runs (none for the bank
    /// pages' browser).
    lock: Option<PathBuf>,
}

impl Drop for App {
    fn drop(&mut self) {
        terminate(&mut self.driver);
    }
}

impl App {
    fn c(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Ends the session (the app closes) and stops tauri-driver.
    pub async fn quit(mut self) {
        if let Some(c) = self.client.take() {
            let _ = c.close().await;
        }
        terminate(&mut self.driver);
        self.wait_until_ended().await;
    }

    /// Waits until the app process has ended, which its lock on the data directory shows: the
    /// next app on the same directory would otherwise find it still open.
    async fn wait_until_ended(&self) {
        let Some(Ok(lock)) = self.lock.as_ref().map(std::fs::File::open) else { return };
        let deadline = Instant::now() + STEP_TIMEOUT;
        while lock.try_lock_shared().is_err() {
            assert!(Instant::now() < deadline, "the app did not end within {STEP_TIMEOUT:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = lock.unlock();
    }

    /// Closes the app and starts it again on the same data directory and keychain.
    pub async fn restart(self, world: &World, env: &[(&str, &str)]) -> App {
        self.quit().await;
        let app = world.launch(env, &[]).await;
        app.phone_size().await;
        app
    }

    pub async fn js(&self, script: &str) -> Value {
        bounded("execute", self.c().execute(script, vec![])).await.unwrap()
    }

    /// A script with one argument (`arguments[0]`), its answer as text.
    pub async fn js_with(&self, script: &str, arg: &str) -> String {
        let v = bounded("execute", self.c().execute(script, vec![json!(arg)])).await.unwrap();
        v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())
    }

    pub async fn js_str(&self, script: &str) -> String {
        match self.js(script).await {
            Value::String(s) => s,
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }

    /// Polls a JavaScript condition until it returns true.
    pub async fn wait_until_for(&self, condition: &str, timeout: Duration) {
        step(&format!("wait for {}", condition.chars().take(90).collect::<String>()));
        let deadline = Instant::now() + timeout;
        loop {
            if bounded("execute", self.c().execute(condition, vec![])).await.ok()
                == Some(Value::Bool(true))
            {
                return;
            }
            if Instant::now() > deadline {
                let screen = self.js_str("return document.body.innerText").await;
                panic!("waited {timeout:?} for `{condition}`; the screen shows:\n{screen}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_until(&self, condition: &str) {
        self.wait_until_for(condition, STEP_TIMEOUT).await;
    }

    /// Waits until the start-up work is done and the first screen is up.
    pub async fn wait_ready(&self) {
        self.wait_until("return document.body.dataset.ready === 'true'").await;
    }

    pub async fn wait_visible(&self, id: &str) {
        self.wait_until(&format!(
            "const e = document.getElementById('{id}'); \
             return !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'"
        ))
        .await;
    }

    pub async fn wait_hidden(&self, id: &str) {
        self.wait_until(&format!(
            "const e = document.getElementById('{id}'); return !e || e.getClientRects().length === 0"
        ))
        .await;
    }

    pub async fn displayed(&self, id: &str) -> bool {
        self.c().find(Locator::Id(id)).await.unwrap().is_displayed().await.unwrap()
    }

    pub async fn click(&self, id: &str) {
        step(&format!("click #{id}"));
        let e = bounded("find", self.c().find(Locator::Id(id))).await.unwrap();
        bounded("click", e.click()).await.unwrap();
    }

    /// Clicks the `action` button of the token at `index` in the list.
    pub async fn click_in_token(&self, index: usize, action: &str) {
        let items = self.c().find_all(Locator::Css("#tokens > li")).await.unwrap();
        let button =
            items[index].find(Locator::Css(&format!("[data-action='{action}']"))).await.unwrap();
        bounded("click", button.click()).await.unwrap();
    }

    /// Types like a keyboard would, after clearing the field.
    pub async fn type_into(&self, id: &str, text: &str) {
        let e = self.c().find(Locator::Id(id)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Sets a field as an input method or paste would (for text a WebDriver keyboard cannot
    /// type, like full-width digits), firing the same `input` event.
    pub async fn set_value(&self, id: &str, text: &str) {
        self.c()
            .execute(
                "const e = document.getElementById(arguments[0]); e.focus(); e.value = arguments[1]; \
                 e.dispatchEvent(new Event('input', { bubbles: true }));",
                vec![json!(id), json!(text)],
            )
            .await
            .unwrap();
    }

    pub async fn text(&self, id: &str) -> String {
        self.c().find(Locator::Id(id)).await.unwrap().text().await.unwrap()
    }

    /// Text even of visually hidden elements (what a screen reader gets).
    pub async fn text_content(&self, id: &str) -> String {
        self.c()
            .execute("return document.getElementById(arguments[0]).textContent", vec![json!(id)])
            .await
            .unwrap()
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn attr(&self, id: &str, name: &str) -> String {
        self.c().find(Locator::Id(id)).await.unwrap().attr(name).await.unwrap().unwrap_or_default()
    }

    pub async fn token_names(&self) -> Vec<String> {
        let v = self
            .js("return [...document.querySelectorAll('#tokens .token-name')].map(e => e.textContent)")
            .await;
        v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect()
    }

    /// The code on screen (OTP screen if shown, else the first token), as digits, taken early
    /// enough in its period that the bank sees it before it expires.
    pub async fn current_code(&self) -> String {
        let read = "const otp = !document.getElementById('screen-otp').hidden; \
             const code = otp ? document.getElementById('otp-code').textContent \
                              : document.querySelector('#tokens .code').textContent; \
             const secs = otp ? document.getElementById('otp-seconds').textContent \
                              : document.querySelector('#tokens .seconds').textContent; \
             return [code, secs];";
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let v = self.js(read).await;
            let code: String =
                v[0].as_str().unwrap_or_default().chars().filter(char::is_ascii_digit).collect();
            let secs: u32 = v[1]
                .as_str()
                .unwrap_or_default()
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap_or(0);
            if secs >= 5 && !code.is_empty() {
                return code;
            }
            assert!(Instant::now() < deadline, "no code with time left on screen");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub async fn phone_size(&self) {
        self.resize(PHONE).await;
    }

    pub async fn resize(&self, (w, h): (u32, u32)) {
        bounded("set_window_size", self.c().set_window_size(w, h)).await.unwrap();
        self.wait_until(&format!("return window.innerWidth === {w}")).await;
    }

    /// Sends keys to whatever has the focus, as a keyboard would.
    pub async fn keys(&self, text: &str) {
        let e = bounded("active element", self.c().active_element()).await.unwrap();
        bounded("send keys", e.send_keys(text)).await.unwrap();
    }

    /// The id of the focused element.
    pub async fn focused(&self) -> String {
        self.js_str("return document.activeElement ? document.activeElement.id : ''").await
    }

    /// The lowest contrast ratio (WCAG) of any visible text on screen against its background,
    /// with a description of where it is.
    pub async fn min_contrast(&self) -> (f64, String) {
        let v = self.js(CONTRAST_SCRIPT).await;
        (v[0].as_f64().unwrap(), v[1].as_str().unwrap_or_default().to_owned())
    }

    /// Step 7 with the demo registration: list → activation → setup → name → code.
    pub async fn activate_demo(&self, world: &World) {
        let (service, user) = world.demo_ids();
        self.activate(service, user, &world.bank.demo_password).await;
    }

    /// Step 7's form from the list, filled in and not yet sent.
    pub async fn fill_activation(&self, service: &str, user: &str, password: &str) {
        self.wait_visible("add-token").await;
        self.click("add-token").await;
        self.wait_visible("screen-activate").await;
        self.set_value("service-id", service).await;
        self.set_value("user-id", user).await;
        self.set_value("password", password).await;
    }

    /// Steps 7–9 through the screens, keeping the bank's name, up to the code.
    pub async fn activate(&self, service: &str, user: &str, password: &str) {
        self.fill_activation(service, user, password).await;
        self.click("activate-submit").await;
        self.wait_visible("screen-setup").await;
        self.click("setup-next").await;
        self.wait_visible("screen-name").await;
        self.click("name-submit").await;
    }

    /// Screenshots of the current screen in ja and en, phone and desktop size, then back to
    /// the phone size and the language it had.
    pub async fn shoot(&self, name: &str) {
        step(&format!("screenshots {name}"));
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let original = self.js_str("return document.documentElement.lang").await;
        for (size_name, size) in [("phone", PHONE), ("desktop", DESKTOP)] {
            self.resize(size).await;
            for lang in ["ja", "en"] {
                self.set_lang(lang).await;
                self.painted().await;
                let (ratio, worst) = self.min_contrast().await;
                assert!(ratio >= 4.5, "{name} {lang} {size_name}: contrast {ratio:.2} at {worst}");
                assert!(ratio <= 21.0, "{name}: no text found for the contrast check");
                let png = bounded("screenshot", self.c().screenshot()).await.unwrap();
                let file = dir.join(format!("{name}-{lang}-{size_name}.png"));
                std::fs::write(&file, png).unwrap();
                shrink(&file);
            }
        }
        self.resize(PHONE).await;
        self.set_lang(&original).await;
    }

    /// Waits until what the DOM holds now has been painted: a screenshot shows the last
    /// painted frame, which can lag behind the DOM.
    async fn painted(&self) {
        let script = "const done = arguments[arguments.length - 1]; \
             requestAnimationFrame(() => requestAnimationFrame(() => done(true)));";
        bounded("paint", self.c().execute_async(script, vec![])).await.unwrap();
    }

    async fn set_lang(&self, lang: &str) {
        if self.js_str("return document.documentElement.lang").await != lang {
            // The switch is a button in the header; pressing it is what a customer does. The
            // page keeps its focus where it was so screenshots show the screen as it was.
            self.js_str(
                "const a = document.activeElement; document.getElementById('lang-switch').click(); \
                 if (a && a.focus) a.focus(); return ''",
            )
            .await;
            self.wait_until(&format!("return document.documentElement.lang === '{lang}'")).await;
        }
    }
}

/// WCAG 2 contrast of every visible text element against the first opaque background behind
/// it; returns `[lowest ratio, "tag#id.class: text"]`.
const CONTRAST_SCRIPT: &str = r#"
const parse = (c) => { const m = c.match(/[\d.]+/g).map(Number); return { r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1 }; };
const lin = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
const lum = (c) => 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
const over = (top, below) => ({ r: top.r * top.a + below.r * (1 - top.a), g: top.g * top.a + below.g * (1 - top.a), b: top.b * top.a + below.b * (1 - top.a), a: 1 });
function background(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c.a > 0) { layers.push(c); if (c.a >= 1) break; }
  }
  let bg = parse(getComputedStyle(document.documentElement).backgroundColor);
  if (bg.a < 1) bg = { r: 255, g: 255, b: 255, a: 1 };
  for (let i = layers.length - 1; i >= 0; i--) bg = over(layers[i], bg);
  return bg;
}
let worst = [99, ""];
for (const el of document.querySelectorAll("body *")) {
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own || el.getClientRects().length === 0) continue;
  const st = getComputedStyle(el);
  if (st.visibility === "hidden" || el.closest(".visually-hidden,[aria-hidden=true]")) continue;
  if (el.closest("dialog") === null && document.querySelector("dialog[open]")) continue;
  const fg = over(parse(st.color), background(el));
  const a = lum(fg), b = lum(background(el));
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < worst[0]) worst = [ratio, `${el.tagName.toLowerCase()}#${el.id}.${el.className}: ${el.textContent.trim().slice(0, 40)}`];
}
return worst;
"#;

/// Screenshots that go into the repository are quantised when pngquant is installed (about a
/// third of the size, no visible change on these flat screens).
fn shrink(file: &Path) {
    if std::env::var("SOFTTOKEN_UPDATE_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let _ = Command::new("pngquant")
        .args(["--force", "--skip-if-larger", "--quality", "80-98", "--output"])
        .arg(file)
        .arg(file)
        .status();
}

fn screenshot_dir() -> PathBuf {
    if std::env::var("SOFTTOKEN_UPDATE_SCREENSHOTS").as_deref() == Ok("1") {
        workspace_root().join("docs").join("screenshots")
    } else {
        target_dir().join("screenshots")
    }
}

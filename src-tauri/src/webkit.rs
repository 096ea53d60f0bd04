//! WebKit's settings for a page like ours, on Linux: one local page whose only change is a
//! countdown once a second. Shared by the app (`run`) and the bare window that
//! scripts/app-perf.sh measures it against (examples/bare_window.rs), so the two differ only by
//! the app's own work.

/// Keeps WebKit small and quiet on Linux: a token app shows one local page whose only change
/// is a countdown once a second.
/// - Cache model "document viewer": no memory caches for browsing many pages.
/// - No page cache or back/forward gestures: there is nowhere to go back to.
#[cfg(target_os = "linux")]
pub fn tune(window: &tauri::WebviewWindow) {
    let _ = window.with_webview(|webview| {
        use webkit2gtk::{CacheModel, SettingsExt, WebContextExt, WebViewExt};
        let view = webview.inner();
        if let Some(context) = view.context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
        if let Some(settings) = WebViewExt::settings(&view) {
            settings.set_enable_page_cache(false);
            settings.set_enable_back_forward_navigation_gestures(false);
        }
    });
}

/// Settings WebKit reads from the environment when it starts its processes, so they are set
/// before the first window, and only where the user has not set them:
/// - no compositing mode: composited rendering runs a GPU (or, without one, llvmpipe) pipeline
///   with a vsync monitor and several render threads for every repaint; painting this page on
///   the CPU costs ~70 MB less and a fifth of the wakeups (docs/PERFORMANCE.md). It is also the
///   usual cure for blank WebKitGTK windows on some GPU drivers. (WebKitWebDriver cannot take
///   screenshots in this mode, so the window tests set `WEBKIT_DISABLE_COMPOSITING_MODE=0`.)
/// - no JavaScript JIT: the page is a few kB of our own script, the interpreter is fast enough,
///   and a web view without JIT has no writable-executable memory to attack.
#[cfg(target_os = "linux")]
pub fn tune_environment() {
    for (name, value) in [("JSC_useJIT", "0"), ("WEBKIT_DISABLE_COMPOSITING_MODE", "1")] {
        if std::env::var_os(name).is_none() {
            // Before any thread exists (start of `run`), so nothing reads the environment
            // concurrently.
            std::env::set_var(name, value);
        }
    }
}

/// Other platforms' web views (WebView2, WKWebView) take no such settings: nothing to do.
#[cfg(not(target_os = "linux"))]
pub fn tune_environment() {}

/// Other platforms' web views keep their own defaults: nothing to tune.
#[cfg(not(target_os = "linux"))]
pub fn tune(_window: &tauri::WebviewWindow) {}

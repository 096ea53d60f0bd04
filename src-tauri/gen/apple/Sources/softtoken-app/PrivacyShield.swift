import UIKit

/// Covers the app whenever a code could be captured without the customer choosing to show it.
///
/// - The app switcher: iOS takes its snapshot after the app resigns active, so the cover goes
///   up on `willResignActive` (app switcher, Control Centre, an incoming call) and comes down
///   on `didBecomeActive`.
/// - Screen recording, AirPlay and mirroring: while `UIScreen.isCaptured` is true the cover
///   stays up, so a recording shows the cover instead of codes.
///
/// iOS offers no way to refuse a screenshot (the system takes it without asking the app), so a
/// screenshot of a code screen is possible on iOS; docs/PLATFORMS.md says so. The cover is the
/// whole window in the icon's plate colour (the "Plate" colour in Assets.xcassets, written by
/// scripts/icons.sh), the same colour Android shows while the app starts.
final class PrivacyShield {
    static let shared = PrivacyShield()

    private var cover: UIView?
    private var observers: [NSObjectProtocol] = []

    func install() {
        guard observers.isEmpty else { return }
        let center = NotificationCenter.default
        let coverNow: (Notification) -> Void = { [weak self] _ in self?.show() }
        let coverIfCaptured: (Notification) -> Void = { [weak self] _ in self?.showWhileCaptured() }
        observers = [
            center.addObserver(forName: UIApplication.willResignActiveNotification,
                               object: nil, queue: .main, using: coverNow),
            center.addObserver(forName: UIApplication.didBecomeActiveNotification,
                               object: nil, queue: .main, using: coverIfCaptured),
            center.addObserver(forName: UIScreen.capturedDidChangeNotification,
                               object: nil, queue: .main, using: coverIfCaptured),
        ]
    }

    private func showWhileCaptured() {
        if UIScreen.main.isCaptured {
            show()
        } else {
            hide()
        }
    }

    private func show() {
        guard cover == nil, let window = Self.keyWindow() else { return }
        let view = UIView(frame: window.bounds)
        view.autoresizingMask = [.flexibleWidth, .flexibleHeight]
        view.backgroundColor = UIColor(named: "Plate") ?? .systemBackground
        view.isAccessibilityElement = false
        window.addSubview(view)
        cover = view
    }

    private func hide() {
        cover?.removeFromSuperview()
        cover = nil
    }

    /// The window Tauri shows: the key window of a connected scene, or of the application on a
    /// system that gives the app no scene.
    private static func keyWindow() -> UIWindow? {
        let sceneWindows = UIApplication.shared.connectedScenes
            .compactMap { $0 as? UIWindowScene }
            .flatMap { $0.windows }
        return (sceneWindows.isEmpty ? UIApplication.shared.windows : sceneWindows)
            .first { $0.isKeyWindow }
    }
}

@_cdecl("softtoken_install_privacy_shield")
public func softtokenInstallPrivacyShield() {
    PrivacyShield.shared.install()
}

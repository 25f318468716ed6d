// lido: the desktop console. It attaches to a running lidod (--connect SOCKET, or by itself when
// an engine answers on the user's own admin socket or the service's /run/lido/admin.sock), and
// otherwise runs the engine in-process on the configuration it opens. It never starts a second
// engine beside one that is running: that one would only fail to bind the same ports.
#include "EngineClient.h"
#include "MainWindow.h"
#include "ServerList.h"
#include "ServerWindows.h"
#include "Tray.h"

#include "admin/AdminServer.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QSettings>
#include <QStatusBar>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName("Lido");
    QApplication::setApplicationName("lido");
    QApplication::setApplicationVersion("0.1");
    // The desktop entry and icon of the lido-console package (the window manager's and
    // Wayland's link between the window and the menu entry).
    QGuiApplication::setDesktopFileName("org.lidoproject.Lido");
    QApplication::setWindowIcon(QIcon::fromTheme("org.lidoproject.Lido"));
    QCommandLineParser parser;
    parser.setApplicationDescription("Lido console");
    parser.addHelpOption();
    parser.addOption({"config", "Configuration file to open.", "FILE"});
    parser.addOption({"no-engine", "Only view and check the configuration; do not serve it."});
    parser.addOption({"connect", "Attach to a running lidod through its admin socket instead of running the engine here.", "SOCKET"});
    parser.process(app);

    InProcessEngineClient engine;
    RemoteEngineClient remote;
    bool attach = parser.isSet("connect");
    QString socket = parser.value("connect"), startupNote;
    bool noEngine = parser.isSet("no-engine");
    if (!attach && !noEngine) {
        QString probeError;
        QString running = QString::fromStdString(lido::admin::clientSocketPath());
        switch (probeEngine(running, &probeError)) {
        case EngineProbe::Answering:
            attach = true;
            socket = running;
            startupNote = QObject::tr("Attached to the engine running at %1 (no second engine started).").arg(running);
            break;
        case EngineProbe::Denied:
            noEngine = true; // its ports are taken; viewing the file is all that is left
            startupNote = QObject::tr("An engine runs at %1 but refuses you (%2): the file is shown, no engine started. "
                                      "Members of the group lido may use it.").arg(running, probeError);
            break;
        case EngineProbe::Absent: break;
        }
    }
    EngineClient* local = attach ? static_cast<EngineClient*>(&remote) : &engine;
    ServerList servers(local);
    MainWindow window(local, &servers);
    ServerWindows windows(&servers, &window);
    QString file = parser.value("config");
    if (file.isEmpty() && !attach)
        file = QSettings().value("config/lastFile").toString();
    if (attach) {
        remote.connectTo(socket);
        if (file.isEmpty()) // the file the engine serves, once it says which
            QObject::connect(&remote, &RemoteEngineClient::runningConfigPathKnown, &window, [&window](const QString& path) {
                if (window.fileName().isEmpty())
                    window.openFile(path);
            });
    }
    if (!startupNote.isEmpty())
        window.statusBar()->showMessage(startupNote, 15000);
    if (!file.isEmpty() && window.openFile(file) && !attach && !noEngine) {
        auto config = lido::config::loadConfig(file.toStdString());
        QString error;
        if (config && (*config)->valid() && !engine.start(*config, &error, file))
            window.statusBar()->showMessage(QObject::tr("The engine could not serve everything: %1").arg(error));
    }
    Tray tray(&servers);
    windows.setTray(&tray);
    if (tray.available()) {
        window.setTray(&tray);
        QApplication::setQuitOnLastWindowClosed(false);
    } else {
        window.statusBar()->showMessage(QObject::tr("No system tray here: Lido runs as a normal window (closing it stops the engine)."), 15000);
    }
    QObject::connect(&tray, &Tray::openConsole, &window, &MainWindow::showPool);
    QObject::connect(&tray, &Tray::quitRequested, &app, [&window] {
        if (window.confirmLeave()) // pending edits: Save, Discard or stay
            QApplication::quit();
    });
    window.show();
    servers.restore(); // the servers added in earlier runs, reached over ssh again
    int rc = app.exec();
    engine.stop();
    return rc;
}

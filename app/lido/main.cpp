// lido: the desktop console. It runs the engine in-process on the configuration it opens, or
// attaches to a running lidod (--connect SOCKET).
#include "EngineClient.h"
#include "MainWindow.h"
#include "Tray.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSettings>
#include <QStatusBar>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setOrganizationName("Lido");
    QApplication::setApplicationName("lido");
    QApplication::setApplicationVersion("0.1");
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
    MainWindow window(attach ? static_cast<EngineClient*>(&remote) : &engine);
    QString file = parser.value("config");
    if (file.isEmpty())
        file = QSettings().value("config/lastFile").toString();
    if (attach)
        remote.connectTo(parser.value("connect"));
    if (!file.isEmpty() && window.openFile(file) && !attach && !parser.isSet("no-engine")) {
        auto config = lido::config::loadConfig(file.toStdString());
        QString error;
        if (config && (*config)->valid() && !engine.start(*config, &error, file))
            window.statusBar()->showMessage(QObject::tr("The engine could not serve everything: %1").arg(error));
    }
    Tray tray(attach ? static_cast<EngineClient*>(&remote) : &engine);
    if (tray.available()) {
        window.setTray(&tray);
        QApplication::setQuitOnLastWindowClosed(false);
    } else {
        window.statusBar()->showMessage(QObject::tr("No system tray here: Lido runs as a normal window (closing it stops the engine)."), 15000);
    }
    QObject::connect(&tray, &Tray::openConsole, &window, &MainWindow::showPool);
    QObject::connect(&tray, &Tray::quitRequested, &app, &QApplication::quit);
    window.show();
    int rc = app.exec();
    engine.stop();
    return rc;
}

// lido: the desktop console.
#include "MainWindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QSettings>

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
    parser.process(app);

    MainWindow window;
    QString file = parser.value("config");
    if (file.isEmpty())
        file = QSettings().value("config/lastFile").toString();
    if (!file.isEmpty())
        window.openFile(file);
    window.show();
    return app.exec();
}

#pragma once
// The console's main window on an EngineFixture's configuration, with the engine running in this
// process as the console runs it (reloads included): what most GUI tests start from.
#include "EngineClient.h"
#include "EngineSupport.h"
#include "MainWindow.h"

#include <QtTest>
#include <memory>

struct LiveWindow {
    explicit LiveWindow(EngineFixture& f, QSize size = QSize(1200, 760))
    {
        file = f.s.config(f.text());
        auto config = lido::config::loadConfig(file.toStdString());
        started = config && client.start(*config, &error, file);
        window = std::make_unique<MainWindow>(&client);
        opened = window->openFile(file);
        window->resize(size);
        window->show();
        exposed = QTest::qWaitForWindowExposed(window.get());
    }
    bool ok() const { return started && opened && exposed; }

    QString file, error;
    InProcessEngineClient client;
    std::unique_ptr<MainWindow> window;
    bool started = false, opened = false, exposed = false;
};

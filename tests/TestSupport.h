#pragma once
// Shared helpers for the tests: a base configuration whose line numbers the tests rely on, a
// scratch folder with the folders and programs it names, and running lidoctl for real.
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QString>
#include <QTemporaryDir>
#include <QtTest>

namespace testsupport {

// Line numbers matter: tests name them in expected messages.
inline QString baseConfig()
{
    return QStringLiteral(R"(<?xml version="1.0" encoding="UTF-8"?>
<configuration>
    <system.applicationHost>
        <applicationPools>
            <add name="php" queueLength="1000">
                <processModel idleTimeout="00:20:00" />
                <failure rapidFailProtection="true" rapidFailProtectionMaxCrashes="5" />
            </add>
            <add name="static" />
        </applicationPools>
        <sites>
            <site name="Main" id="1">
                <application path="/" applicationPool="static">
                    <virtualDirectory path="/" physicalPath="@DIR@/www" />
                </application>
                <application path="/php" applicationPool="php">
                    <virtualDirectory path="/" physicalPath="@DIR@/www" />
                </application>
                <bindings>
                    <binding protocol="http" bindingInformation="127.0.0.1:8080:" />
                </bindings>
            </site>
            <site name="Other" id="2">
                <application path="/" applicationPool="static">
                    <virtualDirectory path="/" physicalPath="@DIR@/www" />
                </application>
                <bindings>
                    <binding protocol="http" bindingInformation="127.0.0.1:8081:" />
                </bindings>
            </site>
        </sites>
    </system.applicationHost>
    <system.webServer>
        <fastCgi>
            <application fullPath="@DIR@/app" arguments="" maxInstances="4" stderrMode="ReturnStdErrIn500" />
        </fastCgi>
        <handlers>
            <add name="PHP" path="*.php" verb="*" modules="FastCgiModule" scriptProcessor="@DIR@/app" />
            <add name="Static" path="*" verb="*" modules="StaticFileModule" />
        </handlers>
        <cgi timeout="00:15:00" />
    </system.webServer>
</configuration>
)");
}

// A scratch folder with www/, an executable `app` and a plain `data.txt`.
class Scratch {
public:
    Scratch()
    {
        QDir(dir.path()).mkpath("www");
        QDir(dir.path()).mkpath("www2");
        write("app", "#!/bin/sh\necho app\n");
        QFile::setPermissions(path("app"), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner | QFile::ReadGroup |
                                               QFile::ExeGroup | QFile::ReadOther | QFile::ExeOther);
        write("data.txt", "data\n");
    }
    QString path(const QString& name = {}) const { return name.isEmpty() ? dir.path() : dir.filePath(name); }
    QString fill(QString text) const { return text.replace("@DIR@", dir.path()); }
    QString config(const QString& text, const QString& name = "applicationHost.config") const
    {
        write(name, fill(text).toUtf8());
        return path(name);
    }
    void write(const QString& name, const QByteArray& bytes) const
    {
        QFile f(path(name));
        QVERIFY(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
        f.write(bytes);
    }
    QByteArray read(const QString& name) const
    {
        QFile f(path(name));
        if (!f.open(QIODevice::ReadOnly))
            return {};
        return f.readAll();
    }

    QTemporaryDir dir;
};

struct Run {
    int exitCode = -1;
    QString out;
    QString err;
};

inline QString lidoctlPath() { return QStringLiteral(LIDO_BIN_DIR "/lidoctl"); }

inline Run run(const QString& program, const QStringList& args, const QByteArray& input = {},
               const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment())
{
    QProcess p;
    p.setProcessEnvironment(env);
    p.start(program, args);
    if (!p.waitForStarted(10000))
        return {};
    if (!input.isEmpty())
        p.write(input);
    p.closeWriteChannel();
    p.waitForFinished(60000);
    return Run{p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
               QString::fromUtf8(p.readAllStandardError())};
}

inline Run lidoctl(const QStringList& args, const QByteArray& input = {}) { return run(lidoctlPath(), args, input); }

} // namespace testsupport

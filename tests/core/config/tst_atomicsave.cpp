// The one atomic save and the history: a crash or a full disk never damages the file.
#include "TestSupport.h"
#include "config/AtomicFile.h"
#include "config/ConfigDocument.h"
#include "config/ConfigEdit.h"
#include "config/ConfigHistory.h"

#include <csignal>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace lido::config;
using testsupport::Scratch;

namespace {

QStringList leftovers(const Scratch& s)
{
    return QDir(s.path()).entryList({".*.tmp-*"}, QDir::Files | QDir::Hidden);
}

} // namespace

class tst_AtomicSave : public QObject {
    Q_OBJECT
private slots:
    void crashBetweenWriteAndRenameLeavesTheOriginal()
    {
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        QByteArray original = s.read("applicationHost.config");
        pid_t child = ::fork();
        if (child == 0) {
            lido::AtomicWriteOptions opts;
            opts.beforeRename = [] { ::_exit(42); }; // the process dies at the worst moment
            (void)lido::writeFileAtomically(file.toStdString(), "<configuration>half", opts);
            ::_exit(0);
        }
        int status = 0;
        QCOMPARE(::waitpid(child, &status, 0), child);
        QVERIFY(WIFEXITED(status));
        QCOMPARE(WEXITSTATUS(status), 42);
        QCOMPARE(s.read("applicationHost.config"), original);
        QCOMPARE(leftovers(s).size(), 1); // the finished temporary file, never the original's name
        // The next save works and is complete.
        QVERIFY(lido::writeFileAtomically(file.toStdString(), "<configuration/>\n"));
        QCOMPARE(s.read("applicationHost.config"), QByteArray("<configuration/>\n"));
    }

    void fullDiskLeavesTheOriginalAndSaysWhy()
    {
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        QByteArray original = s.read("applicationHost.config");
        int fds[2];
        QCOMPARE(::pipe(fds), 0);
        pid_t child = ::fork();
        if (child == 0) {
            ::close(fds[0]);
            ::signal(SIGXFSZ, SIG_IGN);
            rlimit limit{8192, 8192}; // files may not grow past 8 KiB: the disk is "full"
            ::setrlimit(RLIMIT_FSIZE, &limit);
            auto r = lido::writeFileAtomically(file.toStdString(), std::string(100000, 'x'));
            std::string msg = r ? "saved" : r.error();
            (void)!::write(fds[1], msg.data(), msg.size());
            ::_exit(r ? 0 : 1);
        }
        ::close(fds[1]);
        char buf[1024] = {};
        ssize_t n = ::read(fds[0], buf, sizeof buf - 1);
        ::close(fds[0]);
        int status = 0;
        ::waitpid(child, &status, 0);
        QVERIFY(n > 0);
        QString msg = QString::fromUtf8(buf, int(n));
        QCOMPARE(WEXITSTATUS(status), 1);
        QCOMPARE(msg, QString("cannot save %1: writing the new version failed: File too large; the file is unchanged").arg(file));
        QCOMPARE(s.read("applicationHost.config"), original);
        QVERIFY(leftovers(s).isEmpty());
    }

    void unwritableFolderIsAClearError()
    {
        if (::geteuid() == 0)
            QSKIP("root writes anywhere");
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        QFile::setPermissions(s.path(), QFile::ReadOwner | QFile::ExeOwner);
        auto r = lido::writeFileAtomically(file.toStdString(), "x");
        QFile::setPermissions(s.path(), QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
        QVERIFY(!r);
        QVERIFY(QString::fromStdString(r.error()).contains("Permission denied"));
    }

    void keepsModeAndFollowsLinks()
    {
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        QVERIFY(::chmod(file.toUtf8().constData(), 0640) == 0);
        QVERIFY(QFile::link(file, s.path("link.config")));
        QVERIFY(lido::writeFileAtomically(s.path("link.config").toStdString(), "<configuration/>\n"));
        struct stat st {};
        QCOMPARE(::lstat(s.path("link.config").toUtf8().constData(), &st), 0);
        QVERIFY(S_ISLNK(st.st_mode));
        QCOMPARE(::stat(file.toUtf8().constData(), &st), 0);
        QCOMPARE(int(st.st_mode & 07777), 0640);
        QCOMPARE(s.read("applicationHost.config"), QByteArray("<configuration/>\n"));
    }

    void invalidConfigurationIsNeverSaved()
    {
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        QByteArray original = s.read("applicationHost.config");
        auto doc = ConfigDocument::load(file.toStdString());
        QVERIFY(doc);
        QVERIFY(applyEdit(*doc, "set", "pool", "php", {"queueLength=5"}));
        auto r = saveConfig(file.toStdString(), *doc);
        QVERIFY(!r);
        QCOMPARE(QString::fromStdString(r.error()),
                 QString("refused: the configuration does not validate; %1 is unchanged:\n  %1:5: applicationPools/add[@name='php']/@queueLength: "
                         "5 is below the minimum 10").arg(file));
        QCOMPARE(s.read("applicationHost.config"), original);
        QVERIFY(historyFor(file.toStdString(), nullptr).list().empty());
    }

    void historyKeepsTheLastN()
    {
        Scratch s;
        QString text = testsupport::baseConfig().replace("</system.applicationHost>",
                                                         "    <configHistory maxHistories=\"3\" />\n    </system.applicationHost>");
        QString file = s.config(text);
        std::vector<std::string> versions;
        for (int i = 0; i < 5; ++i) {
            auto doc = ConfigDocument::load(file.toStdString());
            QVERIFY(doc);
            versions.push_back(doc->text());
            QVERIFY(applyEdit(*doc, "set", "pool", "php", {"queueLength=" + std::to_string(100 + i)}));
            QVERIFY(saveConfig(file.toStdString(), *doc));
        }
        auto history = historyFor(file.toStdString(), nullptr);
        auto entries = history.list();
        QCOMPARE(entries.size(), size_t(3));
        QCOMPARE(entries[0].id, 5);
        QCOMPARE(entries[2].id, 3);
        QCOMPARE(*history.read(5), versions[4]); // the version the last save replaced
        QCOMPARE(*history.read(3), versions[2]);
        QVERIFY(!history.read(1));
        QVERIFY(history.folder().ends_with("/.applicationHost.config.history"));
    }

    void restoreBringsBackAVersionAndKeepsTheCurrent()
    {
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        QByteArray first = s.read("applicationHost.config");
        auto doc = ConfigDocument::load(file.toStdString());
        QVERIFY(applyEdit(*doc, "set", "pool", "php", {"queueLength=500"}));
        QVERIFY(saveConfig(file.toStdString(), *doc));
        QByteArray second = s.read("applicationHost.config");
        QVERIFY(second != first);
        QVERIFY(restoreConfig(file.toStdString(), 1));
        QCOMPARE(s.read("applicationHost.config"), first);
        auto entries = historyFor(file.toStdString(), nullptr).list();
        QCOMPARE(entries.size(), size_t(2));
        QCOMPARE(QByteArray::fromStdString(*historyFor(file.toStdString(), nullptr).read(entries[0].id)), second);
        QVERIFY(!restoreConfig(file.toStdString(), 99));
    }

    void historyFolderFromConfiguration()
    {
        Scratch s;
        QString text = testsupport::baseConfig().replace(
            "</system.applicationHost>", "    <configHistory path=\"@DIR@/kept\" />\n    </system.applicationHost>");
        QString file = s.config(text);
        auto doc = ConfigDocument::load(file.toStdString());
        QVERIFY(applyEdit(*doc, "set", "pool", "php", {"queueLength=500"}));
        QVERIFY(saveConfig(file.toStdString(), *doc));
        QCOMPARE(QDir(s.path("kept")).entryList(QDir::Files).size(), 1);
    }

    void concurrentWriterIsRefused()
    {
        Scratch s;
        QString file = s.config(testsupport::baseConfig());
        auto mine = ConfigDocument::load(file.toStdString());
        auto theirs = ConfigDocument::load(file.toStdString());
        QVERIFY(applyEdit(*theirs, "set", "pool", "static", {"queueLength=300"}));
        QVERIFY(saveConfig(file.toStdString(), *theirs)); // someone else saves first
        QVERIFY(applyEdit(*mine, "set", "pool", "php", {"queueLength=500"}));
        SaveOptions mineCas;
        mineCas.expectedOnDisk = s.fill(testsupport::baseConfig()).toStdString(); // what I loaded
        auto r = saveConfig(file.toStdString(), *mine, mineCas);
        QVERIFY(!r);
        QVERIFY(QString::fromStdString(r.error()).contains("was changed by someone else"));
        QVERIFY(s.read("applicationHost.config").contains("queueLength=\"300\""));
    }
};

QTEST_APPLESS_MAIN(tst_AtomicSave)
#include "tst_atomicsave.moc"

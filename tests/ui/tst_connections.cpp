// Several servers over SSH: a real sshd (Debian's openssh-server) started on 127.0.0.1 with keys
// made here, a real lidod behind it reached by `ssh -T HOST lidoctl bridge` (the key's forced
// command names the engine's socket), and the console's Connections dock, Servers overview, tray
// and the server's own window in the real window under Xvfb with a tray host.
#include "ChangesDialog.h"
#include "ConnectionsDock.h"
#include "EngineClient.h"
#include "EventsDock.h"
#include "EngineSupport.h"
#include "GuiSupport.h"
#include "MainWindow.h"
#include "PoolsPage.h"
#include "ServerList.h"
#include "ServerWindows.h"
#include "ServersPage.h"
#include "Tray.h"

#include <QHostAddress>
#include <QInputDialog>
#include <QStatusBar>
#include <QLabel>
#include <QTcpSocket>
#include <QLineEdit>
#include <QMenu>
#include <QSignalSpy>
#include <QSystemTrayIcon>
#include <QTableView>
#include <QTableWidget>
#include <QTreeWidget>
#include <QtTest>

#include <pwd.h>
#include <sys/stat.h>

using guitest::screenshot;

namespace {

// An sshd of our own on a free loopback port: host and user keys generated in the scratch folder,
// the user's key allowed with a forced command (lidoctl bridge to SOCKET), and an ssh_config that
// names it "lidotest" with that key and the host key already known.
class Sshd {
public:
    Sshd(const testsupport::Scratch& s, const QString& socket) : dir_(s.path("ssh"))
    {
        QDir().mkpath(dir_);
        ::chmod(dir_.toUtf8().constData(), 0700);
        for (const char* key : {"host_key", "user_key"})
            if (testsupport::run("ssh-keygen", {"-q", "-t", "ed25519", "-N", "", "-f", dir_ + "/" + key}).exitCode != 0)
                return;
        if (::geteuid() == 0)
            ::mkdir("/run/sshd", 0755); // sshd's privilege separation folder, as its unit makes it
        port = freePort();
        user = QString::fromLocal8Bit(::getpwuid(::geteuid())->pw_name);
        QString command = QString("%1 --connect %2 bridge").arg(testsupport::lidoctlPath(), socket);
        write("authorized_keys", QString("command=\"%1\",no-pty,no-port-forwarding,no-agent-forwarding %2").arg(command, read("user_key.pub")));
        write("sshd_config", QString("ListenAddress 127.0.0.1\nPort %1\nHostKey %2/host_key\nAuthorizedKeysFile %2/authorized_keys\n"
                                     "PidFile %2/sshd.pid\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                                     "PermitRootLogin prohibit-password\nStrictModes no\nLogLevel VERBOSE\n")
                                 .arg(port)
                                 .arg(dir_));
        write("known_hosts", "lidotest " + read("host_key.pub"));
        write("ssh_config", QString("Host lidotest\n  HostName 127.0.0.1\n  Port %1\n  User %2\n  IdentityFile %3/user_key\n"
                                    "  IdentitiesOnly yes\n  HostKeyAlias lidotest\n  UserKnownHostsFile %3/known_hosts\n"
                                    "  StrictHostKeyChecking yes\n")
                                .arg(port)
                                .arg(user, dir_));
        process.setProcessChannelMode(QProcess::MergedChannels);
        process.start("/usr/sbin/sshd", {"-D", "-e", "-f", dir_ + "/sshd_config"});
        process.waitForStarted();
        for (int i = 0; i < 100 && !connectable(); ++i)
            QThread::msleep(50);
    }
    ~Sshd()
    {
        process.terminate();
        process.waitForFinished(5000);
    }
    QString config() const { return dir_ + "/ssh_config"; }
    QString log() { return QString::fromUtf8(process.readAll()); }

    uint16_t port = 0;
    QString user;
    QProcess process;

private:
    bool connectable() const
    {
        QTcpSocket t;
        t.connectToHost(QHostAddress::LocalHost, port);
        return t.waitForConnected(200);
    }
    QString read(const QString& name) const
    {
        QFile f(dir_ + "/" + name);
        return f.open(QIODevice::ReadOnly) ? QString::fromUtf8(f.readAll()).trimmed() : QString();
    }
    void write(const QString& name, const QString& text) const
    {
        QFile f(dir_ + "/" + name);
        if (f.open(QIODevice::WriteOnly | QIODevice::Truncate))
            f.write((text + "\n").toUtf8());
        f.setPermissions(QFile::ReadOwner | QFile::WriteOwner);
    }
    QString dir_;
};

// The remote engine's pool "app" (the FastCGI helper under /app, *.app).
void remoteApp(EngineFixture& f)
{
    f.values["@POOLS@"] = "<add name=\"app\" startMode=\"AlwaysRunning\" />";
    f.values["@APPS@"] = R"(<application path="/app" applicationPool="app"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>)";
    f.values["@FASTCGI@"] = "<fastCgi><application fullPath=\"" LIDO_TEST_BIN_DIR "/lido-test-fcgi\" maxInstances=\"1\" /></fastCgi>";
    f.values["@HANDLERS@"] = "<add name=\"App\" path=\"*.app\" verb=\"*\" modules=\"FastCgiModule\" scriptProcessor=\"" LIDO_TEST_BIN_DIR
                             "/lido-test-fcgi\" />";
}

// Answers the next QInputDialog with text (File → Connect to server… runs one modally).
void answerNextInput(const QString& text)
{
    QTimer::singleShot(0, [text] {
        for (int i = 0; i < 200; ++i) {
            for (QWidget* w : QApplication::topLevelWidgets())
                if (auto* d = qobject_cast<QInputDialog*>(w); d && d->isVisible()) {
                    d->setTextValue(text);
                    d->accept();
                    return;
                }
            QTest::qWait(20);
        }
    });
}

} // namespace

class tst_Connections : public QObject {
    Q_OBJECT
private slots:
    void initTestCase()
    {
        guitest::isolateSettings();
        QTRY_VERIFY_WITH_TIMEOUT(QSystemTrayIcon::isSystemTrayAvailable(), 5000); // run under tests/run-with-tray.sh
    }

    // What ssh is asked to run: no terminal, never a prompt, the port apart, the remote command.
    void sshArgumentsOfADestination()
    {
        QStringList a = RemoteEngineClient::sshArguments("deploy@web2.example.com:2222");
        QVERIFY(a.contains("-T"));
        QVERIFY(a.contains("BatchMode=yes"));
        QCOMPARE(a.mid(a.indexOf("-p"), 2), QStringList({"-p", "2222"}));
        QCOMPARE(a.mid(a.indexOf("--")), QStringList({"--", "deploy@web2.example.com", "lidoctl", "bridge"}));
        QStringList v6 = RemoteEngineClient::sshArguments("[::1]:22");
        QCOMPARE(v6.mid(v6.indexOf("-p")), QStringList({"-p", "22", "--", "::1", "lidoctl", "bridge"}));
        QStringList alias = RemoteEngineClient::sshArguments("lidotest");
        QVERIFY(!alias.contains("-p"));
        // Not a destination: an option in disguise never reaches ssh.
        RemoteEngineClient c;
        c.connectOverSsh("-oProxyCommand=touch /tmp/x");
        QTRY_COMPARE(c.link(), RemoteEngineClient::Link::Unreachable);
        QVERIFY2(c.linkError().startsWith("not a destination"), qPrintable(c.linkError()));
    }

    void manageAServerOverSsh()
    {
        EngineFixture remote;
        remoteApp(remote);
        auto lidod = std::make_unique<Lidod>(remote);
        QTRY_VERIFY(QFile::exists(lidod->socket));
        Sshd sshd(remote.s, lidod->socket);
        QVERIFY2(sshd.process.state() == QProcess::Running, qPrintable(sshd.log()));
        qputenv("LIDO_SSH_COMMAND", QString("ssh -F %1").arg(sshd.config()).toUtf8());

        EngineFixture here; // this machine's engine, in the console's process
        InProcessEngineClient local;
        auto config = lido::config::loadConfig(here.s.config(here.text()).toStdString());
        QVERIFY(config && (*config)->valid());
        QVERIFY(local.start(*config));

        ServerList servers(&local);
        servers.setRetryInterval(200);
        MainWindow w(&local, &servers);
        w.openFile(QString::fromStdString((*config)->fileName()));
        Tray tray(&servers);
        w.setTray(&tray);
        ServerWindows windows(&servers, &w);
        windows.setTray(&tray);
        QSignalSpy notified(&tray, &Tray::notified);
        w.resize(1400, 820);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        QVERIFY(w.connectionsDock());
        QTreeWidget* list = w.connectionsDock()->list();
        QCOMPARE(list->topLevelItemCount(), 1);
        QVERIFY(list->topLevelItem(0)->text(0).startsWith("This computer"));
        QVERIFY(list->topLevelItem(0)->data(0, ConnectionsDock::StateRole).toString().startsWith("1 of 1 sites serving"));

        // File → Connect to server…, answered as a user would.
        QAction* connectAction = w.findChild<QAction*>("connectToServer");
        QVERIFY(connectAction);
        answerNextInput("lidotest");
        connectAction->trigger();
        QCOMPARE(servers.count(), 2);
        QCOMPARE(QSettings().value("connections/servers").toStringList(), QStringList{"lidotest"});
        QTRY_VERIFY2_WITH_TIMEOUT(servers.link(1) == ServerList::Link::Reachable, qPrintable(servers.linkText(1) + "\n" + sshd.log()), 20000);
        QTRY_COMPARE(w.statusBar()->currentMessage(), QString("lidotest: reachable"));
        QTRY_COMPARE(list->topLevelItemCount(), 2);
        QTRY_VERIFY2(list->topLevelItem(1)->data(0, ConnectionsDock::StateRole).toString().startsWith("1 of 1 sites serving, 2 of 2 pools started"), qPrintable(list->topLevelItem(1)->data(0, ConnectionsDock::StateRole).toString()));
        QVERIFY(list->topLevelItem(1)->text(0).startsWith("lidotest\n"));

        // The tray: a submenu per server, then per pool; Stop and Start go over ssh to that lidod.
        QTRY_VERIFY(tray.poolAction(1, "app", "Stop") != nullptr);
        QVERIFY(tray.serverMenu(0) && tray.serverMenu(1));
        QVERIFY2(tray.summary().contains("lidotest: 1 of 1 sites serving"), qPrintable(tray.summary()));
        QTRY_COMPARE(fetch(remote.port, "/app/x.app").status, 200);
        tray.poolAction(1, "app", "Stop")->trigger();
        QTRY_COMPARE(fetch(remote.port, "/app/x.app").status, 503);
        QTRY_VERIFY(lidod->ctl({"status"}).out.contains("stopped by the administrator"));
        QTRY_VERIFY(tray.poolAction(1, "app", "Start")->isEnabled());
        QTRY_COMPARE(tray.health(), Tray::Health::Degraded);
        QTRY_VERIFY(list->topLevelItem(1)->data(0, ConnectionsDock::StateRole).toString().contains("1 of 2 pools started"));

        // Screenshots: the Connections dock with two servers, the tray's menu with both.
        screenshot(&w, "connections-two-servers");
        tray.menu()->popup(QPoint(40, 40));
        QVERIFY(QTest::qWaitForWindowExposed(tray.menu()));
        QMenu* second = tray.serverMenu(1);
        second->popup(QPoint(40 + tray.menu()->width(), 40));
        QVERIFY(QTest::qWaitForWindowExposed(second));
        QMenu* appMenu = nullptr;
        for (QAction* a : second->actions())
            if (a->menu() && a->data().toString() == "app")
                appMenu = a->menu();
        QVERIFY(appMenu);
        QVERIFY2(appMenu->title().contains("Stopped"), qPrintable(appMenu->title()));
        screenshot(tray.menu(), "tray-two-servers");
        screenshot(second, "tray-two-servers-lidotest");
        second->hide();
        tray.menu()->hide();

        tray.poolAction(1, "app", "Start")->trigger();
        QTRY_COMPARE(fetch(remote.port, "/app/x.app").status, 200);
        QTRY_COMPARE(tray.health(), Tray::Health::Healthy);

        // The Servers overview: both rows, their configurations' versions, the odd one marked.
        w.tabs()->setCurrentWidget(w.serversPage());
        QTableWidget* table = w.serversPage()->table();
        QTRY_COMPARE(table->rowCount(), 2);
        QTRY_VERIFY(!table->item(1, ServersPage::Version)->text().isEmpty());
        QCOMPARE(table->item(1, ServersPage::Sites)->text(), QString("1 of 1"));
        QCOMPARE(table->item(1, ServersPage::Pools)->text(), QString("2 / 0 / 0"));
        QVERIFY2(table->item(1, ServersPage::Version)->text().startsWith("≠ "), qPrintable(table->item(1, ServersPage::Version)->text()));
        QVERIFY(!table->item(0, ServersPage::Version)->text().startsWith("≠"));
        QCOMPARE(table->item(1, ServersPage::Version)->text().mid(2),
                 QString::fromStdString(servers.at(1).client->snapshot().configHash).left(12));
        table->resizeColumnsToContents();
        screenshot(&w, "servers-overview");
        ChangesDialog* diff = w.serversPage()->compare(0, 1);
        QTRY_VERIFY2(diff->semanticText().contains(QString::number(remote.port)), qPrintable(diff->semanticText()));
        diff->close();

        // The server's own window: its pools live, its running configuration read-only.
        list->setCurrentItem(list->topLevelItem(1));
        emit list->itemActivated(list->topLevelItem(1), 0);
        MainWindow* other = windows.windowOf(1);
        QVERIFY(other);
        QVERIFY(QTest::qWaitForWindowExposed(other));
        QVERIFY(other->readOnly());
        QTRY_VERIFY2(other->windowTitle().contains("lidotest"), qPrintable(other->windowTitle()));
        QAbstractItemModel* pools = other->poolsPage()->table()->model();
        QTRY_VERIFY(!pools->match(pools->index(0, 0), Qt::DisplayRole, "app", 1, Qt::MatchExactly).isEmpty());
        QVERIFY(!other->editAndSave("remove", "pool", "app", {}).isEmpty()); // read-only: refused, nothing sent
        // Its events: the remote engine's, from before the console connected (the stop above too).
        QTreeWidget* events = other->eventsDock()->list();
        QTRY_VERIFY(!events->findItems("pool.stopped", Qt::MatchExactly, 2).isEmpty() ||
                    !events->findItems("engine.started", Qt::MatchExactly, 2).isEmpty());
        QVERIFY(!events->findItems("engine.started", Qt::MatchExactly, 2).isEmpty());
        other->tabs()->setCurrentIndex(3); // Configuration: the banner says whose and why read-only
        QVERIFY(other->findChild<QLabel*>("configurationBanner")->isVisible());
        screenshot(other, "server-window-lidotest-configuration");
        other->tabs()->setCurrentIndex(0);
        screenshot(other, "server-window-lidotest");

        // The server goes away: unreachable with the channel's own words, notified, and back by itself.
        lidod.reset();
        QTRY_VERIFY_WITH_TIMEOUT(servers.link(1) == ServerList::Link::Unreachable, 15000);
        QTRY_VERIFY2(servers.linkText(1).contains("no engine is running"), qPrintable(servers.linkText(1)));
        QTRY_VERIFY2(list->topLevelItem(1)->data(0, ConnectionsDock::StateRole).toString().startsWith("unreachable: "), qPrintable(list->topLevelItem(1)->data(0, ConnectionsDock::StateRole).toString()));
        QTRY_COMPARE(tray.health(), Tray::Health::Failed);
        bool told = false;
        for (const auto& n : notified)
            told = told || n.at(0).toString() == "lidotest: Server unreachable";
        QVERIFY(told);
        QVERIFY(!tray.poolAction(1, "app", "Start")->isEnabled());
        screenshot(&w, "connections-unreachable");
        lidod = std::make_unique<Lidod>(remote);
        QTRY_VERIFY_WITH_TIMEOUT(servers.link(1) == ServerList::Link::Reachable, 20000);
        QTRY_VERIFY(list->topLevelItem(1)->data(0, ConnectionsDock::StateRole).toString().startsWith("1 of 1 sites serving"));
        QTRY_COMPARE(tray.health(), Tray::Health::Healthy);

        // The list survives a restart of the console; Remove forgets it.
        ServerList again(&local);
        again.restore();
        QCOMPARE(again.count(), 2);
        QCOMPARE(again.at(1).destination, QString("lidotest"));
        servers.remove(1);
        QCOMPARE(servers.count(), 1);
        QCOMPARE(list->topLevelItemCount(), 1);
        QVERIFY(!windows.windowOf(1));
        QCOMPARE(QSettings().value("connections/servers").toStringList(), QStringList{});
        local.stop();
    }
};

QTEST_MAIN(tst_Connections)
#include "tst_connections.moc"

// ACME end to end against Debian's pebble (Let's Encrypt's test CA) on loopback, with
// pebble-challtestsrv as its DNS (every name is 127.0.0.1): an https binding with acme="true"
// gets its certificate through an HTTP-01 challenge the engine answers on its http port, serves
// it, renews it when the (injected) clock passes two thirds of its life, survives the CA being
// down (an event, the current certificate keeps serving, a later retry succeeds) and reports the
// CA's problem document when the CA refuses. Also the schedule's arithmetic and the validator.
#include "EngineSupport.h"
#include "acme/Acme.h"

#include <atomic>

class tst_Acme : public QObject {
    Q_OBJECT
private slots:
    void init();
    void cleanup();
    void schedule();
    void obtainsServesRenewsAndSurvivesTheCaBeingDown();
    void problemDocumentIsTold();
    void aKeyNotItsCertificatesIsObtainedAgain();
    void noFolderWithoutAnAcmeBinding();
    void validation();

private:
    void startPebble();
    void stopPebble();
    void start(const QString& contact = "mailto:admin@shop.test");
    QString served(); // openssl s_client's view of shop.test's certificate: subject, issuer, serial

    std::unique_ptr<EngineFixture> f;
    QProcess dns, pebble;
    uint16_t tlsPort = 0, pebblePort = 0, dnsPort = 0, pebbleAdmin = 0, dnsAdmin = 0;
    std::shared_ptr<std::atomic<std::time_t>> offset = std::make_shared<std::atomic<std::time_t>>(0);
};

namespace {
uint16_t portOtherThan(std::initializer_list<uint16_t> taken)
{
    for (;;) {
        uint16_t p = freePort();
        if (std::find(taken.begin(), taken.end(), p) == taken.end())
            return p;
    }
}
} // namespace

void tst_Acme::init()
{
    f = std::make_unique<EngineFixture>();
    offset->store(0);
    f->clock = [o = offset] { return std::time(nullptr) + o->load(); };
    tlsPort = portOtherThan({f->port});
    pebblePort = portOtherThan({f->port, tlsPort});
    dnsPort = portOtherThan({f->port, tlsPort, pebblePort});
    pebbleAdmin = portOtherThan({f->port, tlsPort, pebblePort, dnsPort});
    dnsAdmin = portOtherThan({f->port, tlsPort, pebblePort, dnsPort, pebbleAdmin});
    QVERIFY(makeCertificate(f->s, "pebble", "localhost")); // pebble's own https
    dns.start("pebble-challtestsrv", {"-dns01", QString("127.0.0.1:%1").arg(dnsPort), "-http01", "", "-https01", "", "-tlsalpn01", "",
                                      "-management", QString("127.0.0.1:%1").arg(dnsAdmin), "-defaultIPv6", ""});
    QVERIFY(dns.waitForStarted());
}

void tst_Acme::cleanup()
{
    f.reset(); // the engine first: it may be talking to pebble
    stopPebble();
    dns.terminate();
    dns.waitForFinished(5000);
}

void tst_Acme::startPebble()
{
    f->s.write("pebble.json", QString(R"({"pebble": {"listenAddress": "127.0.0.1:%1", "managementListenAddress": "127.0.0.1:%2",
        "certificate": "%3", "privateKey": "%4", "httpPort": %5, "tlsPort": %6, "ocspResponderURL": "", "externalAccountBindingRequired": false}})")
                                  .arg(pebblePort).arg(pebbleAdmin).arg(f->s.path("pebble.pem"), f->s.path("pebble.key")).arg(f->port).arg(tlsPort)
                                  .toUtf8());
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("PEBBLE_VA_NOSLEEP", "1"); // validate at once (it waits up to 15 s otherwise)
    pebble.setProcessEnvironment(env);
    pebble.setProcessChannelMode(QProcess::MergedChannels);
    pebble.start("pebble", {"-config", f->s.path("pebble.json"), "-dnsserver", QString("127.0.0.1:%1").arg(dnsPort)});
    QVERIFY(pebble.waitForStarted());
    QTRY_VERIFY_WITH_TIMEOUT(Client(pebblePort).connected(), 15000);
}

void tst_Acme::stopPebble()
{
    if (pebble.state() == QProcess::NotRunning)
        return;
    pebble.terminate();
    pebble.waitForFinished(5000);
}

#ifndef Q_MOC_RUN // moc loses track of a class whose bodies hold raw strings with quotes
void tst_Acme::start(const QString& contact)
{
    f->values["@SITES@"] = QString(R"~(<site name="Shop" id="2">
                <application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
                <bindings>
                    <binding protocol="https" bindingInformation="127.0.0.1:%1:shop.test" sslFlags="1" acme="true" />
                </bindings>
                <logFile directory="@DIR@/logs" />
            </site>)~").arg(tlsPort);
    f->values["@LIDO@"] = QString(R"~(<lido><acme directory="https://localhost:%1/dir" contact="%2" acceptTermsOfService="true"
        folder="@DIR@/acme" trustedCaFile="@DIR@/pebble.pem" /></lido>)~").arg(pebblePort).arg(contact);
    QVERIFY(f->start());
}

QString tst_Acme::served()
{
    QProcess p;
    p.start("bash", {"-c", QString("openssl s_client -connect 127.0.0.1:%1 -servername shop.test </dev/null 2>/dev/null | "
                                   "openssl x509 -noout -subject -issuer -serial")
                               .arg(tlsPort)});
    p.waitForFinished(15000);
    return QString::fromUtf8(p.readAllStandardOutput()).trimmed();
}

void tst_Acme::schedule()
{
    using namespace lido::acme;
    QCOMPARE(renewalTime(0, 90 * 86400), std::time_t(60 * 86400)); // a 90-day certificate: renewed after 60
    QCOMPARE(renewalTime(1000, 1000 + 3 * 3600), std::time_t(1000 + 2 * 3600));
    QCOMPARE(retryDelay(1), std::time_t(60));
    QCOMPARE(retryDelay(2), std::time_t(120));
    QCOMPARE(retryDelay(5), std::time_t(960));
    QCOMPARE(retryDelay(40), std::time_t(6 * 3600)); // never more than six hours
}

void tst_Acme::obtainsServesRenewsAndSurvivesTheCaBeingDown()
{
    startPebble();
    start();
    QTRY_VERIFY_WITH_TIMEOUT(!f->events("acme.certificate-obtained").empty(), 60000);
    QString first = served();
    QVERIFY2(first.contains("subject=CN = shop.test") && first.contains("issuer=CN = Pebble Intermediate CA"), qPrintable(first));
    // Served over HTTP/2 too, and trusted through pebble's root (fetched from its management port).
    QString root = testsupport::run("curl", {"-sk", QString("https://127.0.0.1:%1/roots/0").arg(pebbleAdmin)}).out;
    QVERIFY(root.contains("BEGIN CERTIFICATE"));
    f->s.write("pebble-root.pem", root.toUtf8());
    testsupport::Run fetched = testsupport::run("curl", {"-sS", "--http2", "--cacert", f->s.path("pebble-root.pem"), "--resolve", QString("shop.test:%1:127.0.0.1").arg(tlsPort),
                               QString("https://shop.test:%1/hello.txt").arg(tlsPort)});
    QCOMPARE(fetched.out, QString("Hello, Lido!\n"));
    // The account key and the certificate's key are kept private.
    QFileInfo folder(f->s.path("acme"));
    QCOMPARE(int(folder.permissions() & (QFile::ReadGroup | QFile::ReadOther | QFile::ExeGroup | QFile::ExeOther)), 0);
    QVERIFY(QFileInfo::exists(f->s.path("acme/account.key")));
    QCOMPARE(int(QFileInfo(f->s.path("acme/shop.test/key.pem")).permissions() & (QFile::ReadGroup | QFile::ReadOther)), 0);

    // Four years on (pebble's certificates last five): past two thirds of its life, it is renewed.
    offset->store(4 * 365 * 86400L);
    QTRY_VERIFY_WITH_TIMEOUT(!f->events("acme.certificate-renewed").empty(), 60000);
    QString second;
    QTRY_VERIFY((second = served()) != first && second.contains("subject=CN = shop.test"));

    // The CA goes away; when the next renewal is due, the failure is an event and the current
    // certificate keeps serving.
    stopPebble();
    offset->store(8 * 365 * 86400L);
    QTRY_VERIFY_WITH_TIMEOUT(!f->events("acme.failed").empty(), 60000);
    std::string m = f->events("acme.failed").front().message;
    // Refused, or (once seen under load: a request that had begun as pebble went) cut short.
    QVERIFY2(m.find("cannot connect to localhost:" + std::to_string(pebblePort)) != std::string::npos ||
                 m.find("localhost:" + std::to_string(pebblePort) + "/nonce-plz: the connection ended before the answer was complete") != std::string::npos,
             m.c_str());
    QVERIFY2(m.find("the current certificate keeps serving; next attempt in 60 s") != std::string::npos, m.c_str());
    QCOMPARE(served(), second);

    // Back again: the retry after a minute renews (a new pebble knows no account: one is made).
    startPebble();
    offset->store(8 * 365 * 86400L + 61);
    QTRY_VERIFY_WITH_TIMEOUT(f->events("acme.certificate-renewed").size() == 2, 60000);
    QTRY_VERIFY(served() != second);
}

// The engine stopped between saving a new key and the certificate that goes with it: the pair on
// disk does not match (and its certificate has years to run). It is not kept until its renewal:
// a warning says so and a certificate is obtained at once.
void tst_Acme::aKeyNotItsCertificatesIsObtainedAgain()
{
    QVERIFY(makeCertificate(f->s, "old", "shop.test", 3650));
    QVERIFY(makeCertificate(f->s, "other", "shop.test", 3650));
    QVERIFY(QDir().mkpath(f->s.path("acme/shop.test")));
    QVERIFY(QFile::copy(f->s.path("old.pem"), f->s.path("acme/shop.test/certificate.pem")));
    QVERIFY(QFile::copy(f->s.path("other.key"), f->s.path("acme/shop.test/key.pem")));
    startPebble();
    start();
    QTRY_VERIFY_WITH_TIMEOUT(!f->events("acme.certificate-obtained").empty(), 60000);
    auto warned = f->events("acme.pair-mismatch");
    QCOMPARE(warned.size(), size_t(1));
    QVERIFY2(warned.front().message.find("shop.test/key.pem is not the key of certificate.pem beside it") != std::string::npos,
             warned.front().message.c_str());
    QTRY_VERIFY(served().contains("issuer=CN = Pebble Intermediate CA"));
}

// lido/acme with its folder, and no binding that asks for a certificate: nothing is made on disk.
void tst_Acme::noFolderWithoutAnAcmeBinding()
{
    f->values["@LIDO@"] = QString(R"~(<lido><acme directory="https://localhost:%1/dir" contact="mailto:a@shop.test" acceptTermsOfService="true"
        folder="@DIR@/acme" trustedCaFile="@DIR@/pebble.pem" /></lido>)~").arg(pebblePort);
    QVERIFY(f->start());
    QCOMPARE(fetch(f->port, "/hello.txt").status, 200);
    QVERIFY(!QFileInfo::exists(f->s.path("acme")));
}

void tst_Acme::problemDocumentIsTold()
{
    startPebble();
    start("tel:+15555550100"); // pebble takes mailto: contacts only
    QTRY_VERIFY_WITH_TIMEOUT(!f->events("acme.failed").empty(), 60000);
    std::string m = f->events("acme.failed").front().message;
    QVERIFY2(m.find("creating the account: the CA answered 400 urn:ietf:params:acme:error:") != std::string::npos, m.c_str());
    QVERIFY2(m.find("problem document: {") != std::string::npos, m.c_str());
    QVERIFY2(m.find("handshakes for shop.test fail until one is obtained") != std::string::npos, m.c_str());
    QCOMPARE(fetch(f->port, "/hello.txt").status, 200); // the rest of the engine serves on
}

void tst_Acme::validation()
{
    auto diagnose = [&](const QString& binding, const QString& lido) {
        f->values["@SITES@"] = R"~(<site name="S" id="5"><application path="/" applicationPool="web"><virtualDirectory path="/" physicalPath="@DIR@/www" /></application>
            <bindings>)~" + binding + "</bindings></site>";
        f->values["@LIDO@"] = lido;
        auto config = lido::config::loadConfig(f->s.config(f->text()).toStdString());
        QStringList out;
        for (const auto& d : (*config)->diagnostics())
            out << QString::fromStdString(d.str());
        return out.join('\n');
    };
    QString out = diagnose(R"(<binding protocol="https" bindingInformation="127.0.0.1:9443:" acme="true" />)", "");
    QVERIFY2(out.contains("/@bindingInformation: acme=\"true\" needs a host name"), qPrintable(out));
    QVERIFY2(out.contains("/@acme: acme=\"true\" needs lido/acme/@directory"), qPrintable(out));
    out = diagnose(R"(<binding protocol="https" bindingInformation="127.0.0.1:9443:a.test" acme="true" />)",
                   R"(<lido><acme directory="https://ca.test/dir" /></lido>)");
    QVERIFY2(out.contains("lido/acme/@acceptTermsOfService: the CA asks its terms of service to be agreed to"), qPrintable(out));
    out = diagnose(R"(<binding protocol="http" bindingInformation="127.0.0.1:9080:a.test" acme="true" />)", "");
    QVERIFY2(out.contains("/@acme: acme=\"true\" is for https bindings"), qPrintable(out));
}
#endif

QTEST_GUILESS_MAIN(tst_Acme)
#include "tst_acme.moc"

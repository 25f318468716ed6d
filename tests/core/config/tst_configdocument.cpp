// Editing in place: untouched bytes stay untouched, one changed attribute is one changed line.
#include "TestSupport.h"
#include "config/AtomicFile.h"
#include "config/ConfigDocument.h"
#include "config/ConfigEdit.h"

using namespace lido::config;
using testsupport::Scratch;

namespace {

QByteArray readFile(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

QStringList changedLines(const std::string& a, const std::string& b)
{
    QStringList la = QString::fromStdString(a).split('\n'), lb = QString::fromStdString(b).split('\n');
    QStringList out;
    if (la.size() != lb.size())
        return {"line count differs"};
    for (int i = 0; i < la.size(); ++i)
        if (la[i] != lb[i])
            out << lb[i].trimmed();
    return out;
}

ElementPath path(const char* text) { return *ElementPath::parse(text); }

} // namespace

class tst_ConfigDocument : public QObject {
    Q_OBJECT
private slots:
    void roundTripIsByteIdentical_data()
    {
        QTest::addColumn<QByteArray>("bytes");
        QTest::newRow("sample") << readFile(LIDO_SOURCE_DIR "/resources/sample/applicationHost.config");
        QTest::newRow("IIS default") << readFile(LIDO_SOURCE_DIR "/tests/fixtures/config/iis-default.applicationHost.config");
        QByteArray crlf = readFile(LIDO_SOURCE_DIR "/resources/sample/applicationHost.config");
        crlf.replace("\n", "\r\n");
        QTest::newRow("CRLF") << crlf;
        QTest::newRow("odd but valid") << QByteArray("\xEF\xBB\xBF<!-- before the root -->\n<configuration>\n\t<system.applicationHost>"
                                                     "<applicationPools><add  name = 'a&amp;b'   queueLength='100'/></applicationPools>"
                                                     "</system.applicationHost>\n\t<!-- tab indented --><unknownSection x=\"&#10;\"/>\n</configuration>");
    }
    void roundTripIsByteIdentical()
    {
        QFETCH(QByteArray, bytes);
        QVERIFY(!bytes.isEmpty());
        Scratch s;
        auto doc = ConfigDocument::parse(bytes.toStdString(), "x.config");
        QVERIFY2(doc, doc ? "" : doc.error().c_str());
        QVERIFY(lido::writeFileAtomically(s.path("out.config").toStdString(), doc->text()));
        QCOMPARE(s.read("out.config"), bytes);
    }

    void addThenRemoveRestoresTheBytes()
    {
        QByteArray bytes = readFile(LIDO_SOURCE_DIR "/resources/sample/applicationHost.config");
        auto doc = ConfigDocument::parse(bytes.toStdString(), "x.config");
        QVERIFY(doc);
        QVERIFY(doc->addElement(path("applicationPools/add[@name='extra']"), {{"queueLength", "200"}}));
        QVERIFY(doc->text() != bytes.toStdString());
        QVERIFY(doc->removeElement(path("applicationPools/add[@name='extra']")));
        QCOMPARE(QByteArray::fromStdString(doc->text()), bytes);
    }

    void changingOneAttributeChangesOneLine()
    {
        QByteArray bytes = readFile(LIDO_SOURCE_DIR "/resources/sample/applicationHost.config");
        auto doc = ConfigDocument::parse(bytes.toStdString(), "x.config");
        QVERIFY(doc);
        QVERIFY(applyEdit(*doc, "set", "pool", "php", {"queueLength=500"}));
        QCOMPARE(changedLines(bytes.toStdString(), doc->text()),
                 QStringList{"<add name=\"php\" autoStart=\"true\" startMode=\"OnDemand\" queueLength=\"500\">"});
        // A new attribute joins its element's line.
        std::string before = doc->text();
        QVERIFY(applyEdit(*doc, "set", "pool", "php", {"processModel.userName=www-data"}));
        QCOMPARE(changedLines(before, doc->text()).size(), 1);
        QVERIFY(changedLines(before, doc->text()).first().contains("userName=\"www-data\""));
    }

    void commentsAndUnknownSectionsSurviveEdits()
    {
        QByteArray bytes = readFile(LIDO_SOURCE_DIR "/tests/fixtures/config/iis-default.applicationHost.config");
        auto doc = ConfigDocument::parse(bytes.toStdString(), "x.config");
        QVERIFY(doc);
        QVERIFY(applyEdit(*doc, "set", "pool", "DefaultAppPool", {"queueLength=2000"}));
        QVERIFY(applyEdit(*doc, "add", "pool", "php", {"processModel.idleTimeout=00:05:00"}));
        QString after = QString::fromStdString(doc->text());
        for (const char* kept : {"<configSections>", "<globalModules>", "<location path=\"Default Web Site\"", "<webLimits"})
            QVERIFY2(after.contains(kept), kept);
        QCOMPARE(after.count("<!--"), QString::fromUtf8(bytes).count("<!--"));
    }

    void insertedElementsFollowTheFilesIndentation_data()
    {
        QTest::addColumn<QString>("before");
        QTest::addColumn<QString>("after");
        QTest::newRow("after siblings") << "<configuration>\n  <system.applicationHost>\n    <applicationPools>\n      <add name=\"a\" />\n"
                                           "    </applicationPools>\n  </system.applicationHost>\n</configuration>\n"
                                        << "<configuration>\n  <system.applicationHost>\n    <applicationPools>\n      <add name=\"a\" />\n"
                                           "      <add name=\"b\" queueLength=\"50\" />\n    </applicationPools>\n  </system.applicationHost>\n</configuration>\n";
        QTest::newRow("self-closing parent") << "<configuration>\n  <system.applicationHost>\n    <applicationPools />\n  </system.applicationHost>\n</configuration>\n"
                                             << "<configuration>\n  <system.applicationHost>\n    <applicationPools>\n      <add name=\"b\" queueLength=\"50\" />\n"
                                                "    </applicationPools>\n  </system.applicationHost>\n</configuration>\n";
        QTest::newRow("empty parent, tabs") << "<configuration>\n\t<system.applicationHost>\n\t\t<applicationPools>\n\t\t</applicationPools>\n\t</system.applicationHost>\n</configuration>\n"
                                            << "<configuration>\n\t<system.applicationHost>\n\t\t<applicationPools>\n\t\t\t<add name=\"b\" queueLength=\"50\" />\n"
                                               "\t\t</applicationPools>\n\t</system.applicationHost>\n</configuration>\n";
        QTest::newRow("missing containers") << "<configuration>\n    <system.webServer />\n</configuration>\n"
                                            << "<configuration>\n    <system.webServer>\n        <applicationPools>\n            <add name=\"b\" queueLength=\"50\" />\n"
                                               "        </applicationPools>\n    </system.webServer>\n</configuration>\n";
    }
    void insertedElementsFollowTheFilesIndentation()
    {
        QFETCH(QString, before);
        QFETCH(QString, after);
        auto doc = ConfigDocument::parse(before.toStdString(), "x.config");
        QVERIFY(doc);
        // "missing containers" names system.webServer explicitly to test container creation.
        const char* p = before.contains("system.webServer") ? "system.webServer/applicationPools/add[@name='b']" : "applicationPools/add[@name='b']";
        QVERIFY(doc->addElement(path(p), {{"queueLength", "50"}}));
        QCOMPARE(QString::fromStdString(doc->text()), after);
    }

    void removingAnElementRemovesItsLines()
    {
        QString text = "<configuration>\n  <system.applicationHost>\n    <applicationPools>\n      <add name=\"a\" />\n"
                       "      <add name=\"b\">\n        <failure rapidFailProtection=\"false\" />\n      </add>\n"
                       "      <add name=\"c\" />\n    </applicationPools>\n  </system.applicationHost>\n</configuration>\n";
        auto doc = ConfigDocument::parse(text.toStdString(), "x.config");
        QVERIFY(doc);
        QVERIFY(applyEdit(*doc, "remove", "pool", "b", {}));
        QCOMPARE(QString::fromStdString(doc->text()),
                 QString("<configuration>\n  <system.applicationHost>\n    <applicationPools>\n      <add name=\"a\" />\n"
                         "      <add name=\"c\" />\n    </applicationPools>\n  </system.applicationHost>\n</configuration>\n"));
    }

    void valuesAreEscaped()
    {
        auto doc = ConfigDocument::parse("<configuration><system.webServer><fastCgi><application fullPath=\"/x\" /></fastCgi></system.webServer></configuration>", "x");
        QVERIFY(doc);
        QVERIFY(applyEdit(*doc, "set", "fastcgi", "/x", {"arguments=-d \"a<b\" & 'c'"}));
        QVERIFY(QString::fromStdString(doc->text()).contains("arguments=\"-d &quot;a&lt;b&quot; &amp; 'c'\""));
        auto found = doc->find("fastCgi/application[@fullPath='/x']");
        QVERIFY(found);
        QCOMPARE(QString(found->attribute("arguments").value()), QString("-d \"a<b\" & 'c'"));
    }

    void findSaysWhatIsWrong()
    {
        auto doc = ConfigDocument::parse(testsupport::baseConfig().toStdString(), "x");
        QVERIFY(doc);
        auto none = doc->find("applicationPools/add[@name='nope']");
        QVERIFY(!none);
        QCOMPARE(QString::fromStdString(none.error()), QString("no element system.applicationHost/applicationPools/add[@name='nope']"));
        auto many = doc->find("applicationPools/add");
        QVERIFY(!many);
        QVERIFY(QString::fromStdString(many.error()).contains("names 2 elements"));
        auto bad = doc->find("applicationPools/add[@name='x'");
        QVERIFY(!bad);
        QVERIFY(QString::fromStdString(bad.error()).contains("expected ']'"));
        QCOMPARE(doc->lineOf(*doc->find("sites/site[@name='Other']")), 23);
    }
};

QTEST_APPLESS_MAIN(tst_ConfigDocument)
#include "tst_configdocument.moc"

#pragma once
// "Send test load": keeps a few requests in flight against the sites' applications for a while,
// so that a new user sees the charts move. Plain GETs on loopback through QNetworkAccessManager.
#include <QList>
#include <QNetworkRequest>
#include <QObject>

class QNetworkAccessManager;

class TestLoad : public QObject {
    Q_OBJECT
public:
    explicit TestLoad(QObject* parent = nullptr);
    // About `rate` requests a second (a desktop's load, not a benchmark), at most `concurrency` at once.
    void start(const QList<QNetworkRequest>& requests, int seconds = 30, int concurrency = 8, int rate = 100);
    bool running() const { return running_; }
    int answered() const { return answered_; }

signals:
    void finished(int answered, int failed);

private:
    void sendNext();
    QNetworkAccessManager* net_;
    QList<QNetworkRequest> requests_;
    qint64 until_ = 0;
    int next_ = 0, inFlight_ = 0, answered_ = 0, failed_ = 0, pauseMs_ = 0;
    bool running_ = false;
};

#pragma once
// The Sites page: the sites table with a filter, Start/Stop, and a chart of the selected site's
// requests/s and responses per second by status class over the last five minutes.
#include "SitesModel.h"

#include <QWidget>
#include <deque>
#include <map>

class EngineClient;
class QAction;
class QLineEdit;
class QSortFilterProxyModel;
class QTableView;
class TimeChart;

class SitesPage : public QWidget {
    Q_OBJECT
public:
    SitesPage(EngineClient* client, QWidget* parent = nullptr);
    void setSites(const std::vector<SitesModel::SiteInfo>& sites);
    QTableView* table() const { return table_; }
    SitesModel* model() const { return model_; }
    QAction* startAction() const { return start_; }
    QAction* stopAction() const { return stop_; }
    TimeChart* chart() const { return chart_; }
    QString selectedSite() const;
    QStringList selectedUrls() const; // where Browse goes
    QAction* browseAction() const { return browse_; }

private:
    void refresh();
    void selectionChanged();
    void updateActions();

    EngineClient* client_;
    SitesModel* model_;
    QSortFilterProxyModel* proxy_;
    QLineEdit* filter_;
    QTableView* table_;
    TimeChart* chart_;
    QAction *start_, *stop_, *browse_;
    struct Point {
        double rps, s2xx, s3xx, s4xx, s5xx; // per second
    };
    std::map<QString, std::deque<Point>> history_;
    struct Totals {
        uint64_t s2xx = 0, s3xx = 0, s4xx = 0, s5xx = 0;
    };
    std::map<QString, Totals> last_;
    bool sized_ = false;
};

#pragma once
// The engine's event log in a dock: severity icon, time, source and the human sentence (the
// rapid-fail sentence with its stderr tail reads here without opening a file); a severity filter
// and a text filter; Ctrl+C copies the selected events.
#include <QDockWidget>

class EngineClient;
class QComboBox;
class QLineEdit;
class QTreeWidget;

class EventsDock : public QDockWidget {
    Q_OBJECT
public:
    EventsDock(EngineClient* client, QWidget* parent = nullptr);
    QTreeWidget* list() const { return list_; }
    QComboBox* severityFilter() const { return severity_; }
    QLineEdit* textFilter() const { return text_; }
    // Shown and raised, filtered to the events containing text (a trace's URL).
    void showMatching(const QString& text);
    // One event in full (double-click or Enter): time with date, severity, source, code and the
    // whole message, selectable; a window of its own that stays while the list moves on.
    class QDialog* showDetails(class QTreeWidgetItem* item);

private:
    void poll();
    void applyFilter();

    EngineClient* client_;
    QTreeWidget* list_;
    QComboBox* severity_;
    QLineEdit* text_;
    uint64_t lastSeq_ = 0;
};
